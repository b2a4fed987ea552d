"""Every page template compiles (a syntax error would otherwise show only when its page is opened)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.web import templates

TEMPLATES = sorted(path.name for path in (Path(__file__).parents[1] / "api" / "templates").glob("*.html"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_template_compiles(name):
    template = templates.env.get_template(name)  # TemplateSyntaxError if it does not compile
    assert template.name == name
