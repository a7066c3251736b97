"""A small, safe markdown renderer for report text: everything is escaped, then a few forms become tags.

Supported: ``#``-``######`` headings, paragraphs (blank-line separated), ``-``/``*`` and ``1.`` lists,
fenced code blocks (three backticks), and inline ``**bold**``, ``*italic*``/``_italic_``, ```code```
and ``[text](https://...)`` links. Nothing else becomes markup: raw HTML shows as text, a link whose
target is not ``http(s)://`` shows as its text, and no attribute but a link's ``href`` (and its fixed
``rel``) is ever written. The output holds no script and no inline style, so it passes the dashboard's CSP.

Example:
    >>> print(render_markdown("# Hi <b>"))
    <h1>Hi &lt;b&gt;</h1>
    >>> print(render_markdown("See [docs](https://example.org) or [this](javascript:alert(1))"))
    <p>See <a href="https://example.org" rel="noopener noreferrer nofollow">docs</a> or [this](javascript:alert(1))</p>
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

__all__ = ["render_markdown", "safe_url"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_FENCE = re.compile(r"^\s{0,3}```")
_CODE = re.compile(r"`([^`\n]+)`")
# Links are matched on escaped text: the target has no spaces and no parentheses.
_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?!\*)|(?<![_\w])_(?=\S)([^_]+?)(?<=\S)_(?!\w)")
_SLOT = "\x00"


def safe_url(url: str) -> str | None:
    """Return ``url`` if it is an absolute ``http``/``https`` URL without spaces or control characters, else None."""
    if any(ord(c) < 33 or c in "\\<>\"'`" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _inline(text: str) -> str:
    """Escape one line's text and turn code spans, links, bold and italic into tags."""
    text = text.replace(_SLOT, "")
    slots: list[str] = []

    def keep(markup: str) -> str:
        slots.append(markup)
        return f"{_SLOT}{len(slots) - 1}{_SLOT}"

    # Code spans first, from the raw text: their content is shown exactly, never formatted.
    text = _CODE.sub(lambda m: keep(f"<code>{html.escape(m.group(1))}</code>"), text)
    out = html.escape(text)

    def link(m: re.Match[str]) -> str:
        target = safe_url(html.unescape(m.group(2)))
        if target is None:
            return m.group(0)  # shown as the text the writer typed
        href = html.escape(target, quote=True)
        return keep(f'<a href="{href}" rel="noopener noreferrer nofollow">{m.group(1)}</a>')

    out = _LINK.sub(link, out)
    out = _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", out)
    out = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", out)
    # Slots may nest (a code span inside a link's text): resolve until none is left.
    for _ in range(len(slots) + 1):
        if _SLOT not in out:
            break
        out = re.sub(f"{_SLOT}(\\d+){_SLOT}", lambda m: slots[int(m.group(1))], out)
    return out


def render_markdown(text: str) -> str:
    """Return the HTML of a markdown text (see the module's docstring for what is supported)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            blocks.append("<p>" + "<br>".join(_inline(p) for p in paragraph) + "</p>")
            paragraph.clear()
        if items:
            blocks.append(f"<{list_tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            flush()
            code = []
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                code.append(lines[i])
                i += 1
            blocks.append("<pre><code>" + html.escape("\n".join(code).replace(_SLOT, "")) + "</code></pre>")
            i += 1
            continue
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            tag = "ul" if bullet else "ol"
            if paragraph or (list_tag and list_tag != tag):
                flush()
            list_tag = tag
            items.append((bullet or numbered).group(1))  # type: ignore[union-attr]  # one of them matched
        elif items:
            items[-1] += " " + line.strip()  # a wrapped list item
        else:
            paragraph.append(line.strip())
        i += 1
    flush()
    return "\n".join(blocks)
