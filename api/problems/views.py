"""Pages that explain each problem type: where a problem document's ``type`` URI leads."""

from __future__ import annotations

from flask import Blueprint, abort, render_template_string

from api.problems.catalogue import BY_SLUG, CATALOGUE

bp = Blueprint("problems", __name__, url_prefix="/problems")

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ heading }} · Tandem</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<main>
<h1>{{ heading }}</h1>
{% for p in problems %}
<section id="{{ p.slug }}">
  <h2>{{ p.status }} {{ p.title }}</h2>
  <p><code>type</code>: <code>{{ base }}/problems/{{ p.slug }}</code></p>
  <p>{{ p.meaning }}</p>
  <p><strong>What to do:</strong> {{ p.what_to_do }}</p>
</section>
{% endfor %}
{% if single %}<p><a href="{{ base }}/problems/">Every problem type</a></p>{% endif %}
</main>
</body>
</html>
"""


def _base() -> str:
    from api.errors import problem_base

    return problem_base()


@bp.get("/")
def index() -> str:
    """Every problem type Tandem answers with."""
    return render_template_string(
        _PAGE, heading="Tandem problem types", problems=CATALOGUE, base=_base(), single=False
    )


@bp.get("/<slug>")
def page(slug: str) -> str:
    """One problem type: what it means and what a client should do."""
    problem_type = BY_SLUG.get(slug)
    if problem_type is None:
        abort(404)
    return render_template_string(
        _PAGE, heading=problem_type.title, problems=[problem_type], base=_base(), single=True
    )
