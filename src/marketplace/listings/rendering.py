"""Listing descriptions as safe HTML.

Markdown goes through markdown-it-py with raw HTML disabled (so ``<script>`` stays visible text),
then through the ``nh3`` sanitizer as a second, independent wall: only harmless tags survive,
links keep only http, https and mailto targets and get ``rel="nofollow noopener noreferrer"``.
Images are never rendered: an image in Markdown becomes a plain link to it, so showing a
listing never makes the visitor's browser fetch anything from another site.
Plain text is escaped and keeps its line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from marketplace.listings.models import DescriptionFormat

_ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_REL = "nofollow noopener noreferrer"
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def _image_as_link(renderer: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """Render ``![alt](url)`` as a link to the image instead of loading it."""
    token = tokens[idx]
    alt = "".join(child.content for child in token.children or []) or "image"
    src = str(token.attrGet("src") or "")
    return f'<a href="{escape(src)}">{escape(alt)}</a>'


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    return md


_MARKDOWN = _markdown()


def render_markdown(text: str) -> Markup:
    """Markdown → sanitized HTML, safe to insert into a page."""
    html = _MARKDOWN.render(text)
    cleaned = nh3.clean(
        html,
        tags=set(_ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in _ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(_URL_SCHEMES),
        link_rel=_LINK_REL,
        strip_comments=True,
    )
    return Markup(cleaned)  # noqa: S704  (sanitized by nh3 just above)


def render_plain(text: str) -> Markup:
    """Plain text → escaped HTML paragraphs; single newlines become ``<br>``."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [part.strip("\n") for part in _BLANK_LINES.split(normalized) if part.strip()]
    rendered = (Markup("<br>\n").join(escape(line) for line in part.split("\n")) for part in paragraphs)
    return Markup("\n").join(Markup("<p>") + body + Markup("</p>") for body in rendered)


def render_description(text: str, description_format: str) -> Markup:
    """The listing description as safe HTML, whichever format the vendor chose."""
    if description_format == DescriptionFormat.MARKDOWN:
        return render_markdown(text)
    return render_plain(text)
