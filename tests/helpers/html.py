"""Reading the HTML the views render: start tags and their attributes, in document order."""

from __future__ import annotations

from html.parser import HTMLParser


class _StartTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def start_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """(tag name, attributes) of every start tag."""
    parser = _StartTags()
    parser.feed(html)
    return parser.tags


def tags(html: str, name: str | None = None) -> list[dict[str, str | None]]:
    """The attributes of every start tag named `name` (every tag when None)."""
    return [attrs for tag, attrs in start_tags(html) if name is None or tag == name]


def section(html: str, start_marker: str, end_marker: str = "</section>") -> str:
    start = html.index(start_marker)
    return html[start : html.index(end_marker, start)]


def assert_self_contained(html: str) -> None:
    """No inline scripts, styles or handlers (a strict CSP comes later); nothing off-site."""
    pairs = start_tags(html)
    scripts = [attrs for tag, attrs in pairs if tag == "script"]
    assert scripts and all(s.get("src") and "defer" in s for s in scripts)
    assert not [tag for tag, _ in pairs if tag == "style"]
    for _, attrs in pairs:
        assert "style" not in attrs and not any(key.startswith("on") for key in attrs), attrs
        for key in ("src", "href", "srcset", "action"):
            value = attrs.get(key) or ""
            if attrs.get("rel") != "canonical":
                assert not value.startswith(("http:", "https:", "//")), (key, value)
