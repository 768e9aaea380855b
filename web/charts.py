"""Trajectory charts as server-side SVG, drawn by pygal (no script, no remote assets)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pygal
from markupsafe import Markup
from pygal.style import Style

from clinical import asrm, phq9
from clinical.outcomes import MIN_BASELINE, REMISSION_BELOW, RESPONSE_REDUCTION
from store.reports import Phq9Checkin, SymptomReportRecord
from store.schedule import TreatmentSession

# Bands from severe down to minimal: each is drawn filled to zero over the one above it.
BAND_COLOURS = {
    phq9.SEVERE: "#f4c7c3",
    phq9.MODERATELY_SEVERE: "#f9dcc4",
    phq9.MODERATE: "#fcebc2",
    phq9.MILD: "#e4f1d0",
    phq9.MINIMAL: "#d3ecdf",
}
LINE_COLOURS = ("#1f3a93", "#5b5b5b", "#7a3e9d", "#0b7a50", "#b34700")
BAND_LABELS = {
    phq9.MINIMAL: "Minimal 0-4",
    phq9.MILD: "Mild 5-9",
    phq9.MODERATE: "Moderate 10-14",
    phq9.MODERATELY_SEVERE: "Moderately severe 15-19",
    phq9.SEVERE: "Severe 20-27",
}


def _style(extra: Sequence[str]) -> Style:
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1d1d1d",
        foreground_strong="#1d1d1d",
        foreground_subtle="#6b6b6b",
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=13,
        title_font_size=16,
        opacity=".9",
        opacity_hover=".9",
        colors=(*extra, *LINE_COLOURS),
    )


def _render(chart: pygal.Graph, nonce: str) -> Markup:
    svg: str = chart.render(is_unicode=True)
    # The page's CSP admits inline styles only with this response's nonce; pygal keeps its
    # styles in one <style> element and hides its (unused) tooltip with a style attribute.
    svg = svg.replace("<style", f'<style nonce="{nonce}"', 1)
    return Markup(svg)  # noqa: S704 - pygal's own output, with our nonce added


def _days(moments: Sequence[datetime], tz: ZoneInfo) -> list[datetime]:
    """One x label per local day with data (at most a dozen, evenly thinned)."""
    days: dict[str, datetime] = {}
    for moment in sorted(moments):
        days.setdefault(moment.astimezone(tz).strftime("%Y-%m-%d"), moment)
    picked = list(days.values())
    step = max(1, -(-len(picked) // 12))
    return picked[::step]


def _base(
    title: str, colours: Sequence[str], tz: ZoneInfo, y_max: int, moments: Sequence[datetime]
) -> pygal.DateTimeLine:
    return pygal.DateTimeLine(
        x_labels=_days(moments, tz),
        style=_style(colours),
        title=title,
        width=900,
        height=470,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        show_x_guides=False,
        x_label_rotation=0,
        x_value_formatter=lambda d: d.astimezone(tz).strftime("%b %d"),
        range=(0, y_max),
        min_scale=4,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        truncate_legend=-1,
        dots_size=4,
        stroke_style={"width": 2},
        tooltip_border_radius=0,
        margin=12,
        margin_bottom=36,
        spacing=14,
    )


def phq9_chart(
    *,
    checkins: Sequence[Phq9Checkin],
    sessions: Sequence[TreatmentSession],
    baseline: int | None,
    tz: ZoneInfo,
    nonce: str,
    now: datetime,
) -> Markup:
    """PHQ-9 totals over severity bands, with baseline, response and remission lines."""
    points = sorted((c.answered_at, c.total) for c in checkins)
    starts = sorted(s.started_at for s in sessions)
    moments = [t for t, _ in points] + starts
    first, last = (min(moments), max(moments)) if moments else (now, now)
    span = [first, last]
    chart = _base(
        "PHQ-9 trajectory",
        [BAND_COLOURS[b] for _, _, b in reversed(phq9.SEVERITY_BANDS)],
        tz,
        phq9.MAX_TOTAL,
        moments,
    )
    for _low, high, band in reversed(phq9.SEVERITY_BANDS):
        chart.add(
            BAND_LABELS[band],
            [(t, high) for t in span],
            fill=True,
            show_dots=False,
            stroke_style={"width": 0},
        )
    chart.add("PHQ-9 total", points, stroke_style={"width": 3}, dots_size=5)
    if baseline is not None:
        chart.add(
            f"Baseline {baseline}",
            [(t, baseline) for t in span],
            show_dots=False,
            stroke_style={"width": 2, "dasharray": "8, 4"},
        )
    if baseline is not None and baseline >= MIN_BASELINE:
        # Response is measured only from an elevated baseline (rules-2): no line otherwise.
        response_at = baseline * (1 - RESPONSE_REDUCTION)
        chart.add(
            f"Response (50 %) {response_at:g}",
            [(t, response_at) for t in span],
            show_dots=False,
            stroke_style={"width": 2, "dasharray": "3, 3"},
        )
    chart.add(
        f"Remission (< {REMISSION_BELOW})",
        [(t, REMISSION_BELOW) for t in span],
        show_dots=False,
        stroke_style={"width": 2, "dasharray": "2, 6"},
    )
    chart.add("Session", [(t, 0) for t in starts], stroke=False, dots_size=6)
    return _render(chart, nonce)


def asrm_chart(
    *,
    checkins: Sequence[Phq9Checkin],
    reports: Sequence[SymptomReportRecord],
    tz: ZoneInfo,
    nonce: str,
    now: datetime,
) -> Markup:
    """ASRM totals (with check-ins and post-session reports) against the positive cutoff."""
    points = sorted(
        [(c.answered_at, c.asrm_total) for c in checkins if c.asrm_total is not None]
        + [(r.answered_at, r.asrm_total) for r in reports]
    )
    span = [points[0][0], points[-1][0]] if points else [now, now]
    chart = _base("ASRM trajectory", [], tz, asrm.MAX_TOTAL, [t for t, _ in points])
    chart.add("ASRM total", points, stroke_style={"width": 3}, dots_size=5)
    chart.add(
        f"Positive screen (≥ {asrm.POSITIVE_CUTOFF})",
        [(t, asrm.POSITIVE_CUTOFF) for t in span],
        show_dots=False,
        stroke_style={"width": 2, "dasharray": "8, 4"},
    )
    return _render(chart, nonce)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def outcomes_chart(*, report: Mapping[str, Any], nonce: str) -> Markup:
    """The clinic's response and remission rates (with their 95 % intervals) beside the
    published figures the protocol quotes."""
    published = report["published"]
    style = _style(["#1d4ed8", "#4b5563"])
    # The printed values sit above the bars in the text colour (axe: contrast on white).
    style.value_colors = ("#1d1d1d", "#1d1d1d")
    chart = pygal.Bar(
        style=style,
        print_values_position="top",
        title="Response and remission: this clinic vs the published series (%)",
        width=900,
        height=420,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        range=(0, 100),
        legend_at_bottom=True,
        truncate_legend=-1,
        print_values=True,
        value_formatter=lambda v: f"{v:g} %",
        margin=12,
        spacing=14,
    )
    chart.x_labels = ["Response", "Remission"]

    def _point(rate: Mapping[str, Any], label: str) -> dict[str, Any] | None:
        if rate.get("rate") is None:
            return None
        low, high = rate.get("ci95") or (None, None)
        interval = f" (95 % CI {low:g}-{high:g}, n {rate['n']})" if low is not None else ""
        return {"value": rate["rate"], "label": f"{label}{interval}"}

    chart.add(
        "This clinic",
        [
            _point(report["response"], "Response"),
            _point(report["remission"], "Remission"),
        ],
    )
    chart.add(
        "Published",
        [published["response_rate"], published["remission_rate"]],
    )
    return _render(chart, nonce)
