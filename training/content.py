"""Markdown to sanitised HTML for module content (no Django): only the tags the pages need."""

from __future__ import annotations

import markdown
import nh3

ALLOWED_TAGS = {"h2", "h3", "h4", "p", "ul", "ol", "li", "strong", "em", "blockquote", "code", "pre", "hr", "br"}


def render_markdown(text: str) -> str:
    html = markdown.markdown(text, extensions=["sane_lists"], output_format="html")
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes={}, link_rel=None)
    # GOV.UK typography classes, added after cleaning so nothing user-written can set a class.
    for tag, css in {
        "<h2>": '<h2 class="govuk-heading-m">',
        "<h3>": '<h3 class="govuk-heading-s">',
        "<h4>": '<h4 class="govuk-heading-s">',
        "<p>": '<p class="govuk-body">',
        "<ul>": '<ul class="govuk-list govuk-list--bullet">',
        "<ol>": '<ol class="govuk-list govuk-list--number">',
        "<blockquote>": '<blockquote class="govuk-inset-text">',
    }.items():
        clean = clean.replace(tag, css)
    return clean
