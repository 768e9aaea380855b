"""The browser tests' helpers: the live server, the browsing session, screenshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from services.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")


ARTIFACTS = Path(__file__).parents[1] / "web" / "artifacts"


@dataclass
class LiveServer:
    url: str
    rt: Runtime


@dataclass
class Requests:
    """Every request the page made, so a test can prove none left for another origin."""

    origin: str
    seen: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        mine = urlsplit(self.origin)
        return [
            u
            for u in self.seen
            if not u.startswith(("data:", "blob:", "about:"))
            and (urlsplit(u).scheme, urlsplit(u).netloc) != (mine.scheme, mine.netloc)
        ]


@dataclass
class Browsing:
    page: object
    server: LiveServer
    requests: Requests
    console_errors: list[str]


def screenshot(page: object, name: str) -> Path:
    """Keep a full-page screenshot as a CI artefact (git ignores the folder)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
