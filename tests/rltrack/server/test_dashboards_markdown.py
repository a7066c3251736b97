"""Report markdown: the supported forms render, and no input yields a tag, attribute or URL outside the allow-list.

The output is checked by parsing it with the standard library's HTML parser: only the renderer's own
tags, only ``href``/``rel`` on links, only ``http(s)`` targets. Hostile inputs come from known XSS
vectors and from random text built of markdown and HTML syntax.
"""

from __future__ import annotations

import random
from html.parser import HTMLParser

import pytest

from rltrack.server.markdown import render_markdown, safe_url

ALLOWED_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "ul", "ol", "li", "strong", "em", "code", "pre", "a"}


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        assert tag in ALLOWED_TAGS, tag
        names = [a for a, _ in attrs]
        if tag == "a":
            assert names == ["href", "rel"], attrs
            href = dict(attrs)["href"] or ""
            assert href.lower().startswith(("http://", "https://")), href
            assert dict(attrs)["rel"] == "noopener noreferrer nofollow"
        else:
            assert not names, (tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def audit(markdown: str) -> _Audit:
    out = render_markdown(markdown)
    parser = _Audit()
    parser.feed(out)
    parser.close()
    return parser


def test_the_supported_forms_render() -> None:
    text = ("# Title\n\nSome **bold**, *italic*, _also_, `x < y` and [a link](https://example.org/a?b=1&c=2).\n"
            "second line\n\n- one\n- two\n\n1. first\n2. second\n\n```\nif a < b:\n    **not bold**\n```\n### Small")
    out = render_markdown(text)
    assert out.startswith("<h1>Title</h1>\n<p>Some <strong>bold</strong>, <em>italic</em>, <em>also</em>, "
                          "<code>x &lt; y</code> and <a href=\"https://example.org/a?b=1&amp;c=2\"")
    assert "<br>second line</p>" in out
    assert "<ul><li>one</li><li>two</li></ul>" in out and "<ol><li>first</li><li>second</li></ol>" in out
    assert "<pre><code>if a &lt; b:\n    **not bold**</code></pre>" in out and out.endswith("<h3>Small</h3>")
    assert render_markdown("snake_case_name and 2*3*4") == "<p>snake_case_name and 2*3*4</p>"


@pytest.mark.parametrize("vector", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](//evil.example/x)",
    "[click](vbscript:msgbox)",
    '[x](https://a.b/"onmouseover="alert(1))',
    "[x](https://a.b/'onmouseover='alert(1))",
    "[x](https://a.b/\x01)",
    "[x](https://a.b/`x`)",
    "**<svg onload=alert(1)>**",
    "`</code><script>alert(1)</script>`",
    "```\n</pre><script>alert(1)</script>\n```",
    "# <iframe src=javascript:alert(1)>",
    "- <style>*{display:none}</style>",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    "[`code`](https://ok.example) \x00 slot \x000\x00",
    "&lt;script&gt; &#x3C;script&#x3E; &amp;",
])
def test_hostile_markdown_yields_only_allowed_markup(vector: str) -> None:
    parsed = audit(vector)
    # What the writer typed shows as text: the vector's angle brackets survive as characters, not tags.
    if "<script>" in vector and "`" not in vector:
        assert "<script>" in "".join(parsed.text)


def test_random_markdown_and_html_soup_never_escapes_the_allow_list() -> None:
    rng = random.Random(14)
    atoms = ["<", ">", "\"", "'", "&", "`", "```", "*", "**", "_", "[", "]", "(", ")", "#", "- ", "1. ", "\n", "\n\n",
             " ", "a", "script", "javascript:", "https://x.y/", "onerror=", "\x00", "\r", "<b>", "</a>", "&#60;", "\\"]
    for _ in range(3000):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 40)))
        audit(text)


def test_safe_url_accepts_only_absolute_http_urls() -> None:
    assert safe_url("https://example.org/a?b=1&c=2#d") == "https://example.org/a?b=1&c=2#d"
    assert safe_url("HTTP://EXAMPLE.ORG") == "HTTP://EXAMPLE.ORG"
    for bad in ("javascript:alert(1)", "/relative", "//host/x", "https://", "ftp://x.y", "https://a b", "https://a\nb",
                "mailto:a@b.c", "https://a/<b>", "http://[::1"):
        assert safe_url(bad) is None, bad
