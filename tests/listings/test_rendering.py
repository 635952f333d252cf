"""Descriptions as a visitor sees them: Markdown rendered safely, plain text escaped."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.support.client import SiteClient
from tests.support.factories import Person


class _ElementCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """The real elements of ``html`` (escaped markup is text, not an element)."""
    collector = _ElementCollector()
    collector.feed(html)
    return collector.elements


def _description_html(client: SiteClient, listing_id: int) -> str:
    page = client.get(f"/listings/{listing_id}").text
    start = page.index('<div class="description">')
    return page[start : page.index("</div>", start)]


def test_markdown_keeps_formatting_and_makes_links_safe(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(
        vendor,
        description_format="markdown",
        description=(
            "**bold** and *italic*\n\n- one\n- two\n\n"
            "[site](https://example.org) [bad](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
            '<script>alert(1)</script> <img src="https://tracker.example/p.gif" onerror="alert(2)">\n\n'
            "![photo](https://tracker.example/photo.png)"
        ),
    )
    html = _description_html(client, listing["id"])
    assert "<strong>bold</strong>" in html
    assert "<em>italic</em>" in html
    assert "<li>one</li>" in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">site</a>' in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")  # shown as text, not a link
    assert 'href="javascript' not in html
    assert 'href="data:' not in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html  # neither raw HTML nor Markdown images load anything
    assert '<a href="https://tracker.example/photo.png" rel="nofollow noopener noreferrer">photo</a>' in html
    assert listing["description_html"] in client.get(f"/listings/{listing['id']}").text


@pytest.mark.parametrize(
    "markdown",
    [
        '<a href="javascript:alert(1)">x</a>',
        "[x](JaVaScRiPt:alert(1))",
        "[x](  javascript:alert(1)  )",
        "[x](&#106;avascript:alert(1))",
        "<javascript:alert(1)>",
        '[x](https://ok.example "title" onclick="alert(1)")',
        "<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
    ],
)
def test_no_markdown_trick_produces_active_content(
    vendor: Person, create_listing: Callable[..., dict[str, Any]], markdown: str
) -> None:
    html = create_listing(vendor, description_format="markdown", description=markdown)["description_html"]
    elements = _elements(html)
    assert {tag for tag, _ in elements} <= {"p", "a"}
    for _tag, attributes in elements:
        assert not any(name.startswith("on") for name in attributes)
        href = (attributes.get("href") or "").strip().lower()
        assert not href.startswith(("javascript", "data", "vbscript"))


def test_plain_text_is_escaped_and_keeps_line_breaks(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, description="**not bold** <b>not bold either</b>\nsecond line\n\nnew paragraph")
    html = _description_html(client, listing["id"])
    assert "**not bold** &lt;b&gt;not bold either&lt;/b&gt;<br>\nsecond line" in html
    assert "<p>new paragraph</p>" in html
    assert "<strong>" not in html
    assert "<b>" not in html
