"""Show untrusted text (object identities, names, messages) safely. Pure.

Object kinds and names, placement names, cluster names read from a base commit, file names
under ``rendered/``: any of them can come from a pull request. Printed raw, an ANSI escape
sequence repaints the reviewer's terminal, and a backtick, ``</details>``, a ``#`` at the start
of a line, a link or an image rewrites the markdown job summary. Every view passes such text
through one of these helpers, whatever its layout.
"""

from __future__ import annotations

import html
import re

# C0 controls (but newline and tab), DEL, C1 controls, and the Unicode bidirectional controls
# that reorder what a reader sees ("Trojan Source"), and line/paragraph separators.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_CONTROL_OR_NEWLINE = re.compile(_CONTROL.pattern[:-1] + r"\n\t]")
# Characters that start or end inline markdown anywhere in a line (code, emphasis, links and
# images, tables, strikethrough, @-mentions); each becomes a backslash escape. & < > become
# entities (no HTML). At the start of a line: headings, quotes, list items, setext underlines.
_INLINE = re.compile(r"([\\`*_\[\]!|~@])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
_AUTOLINK = re.compile(r"(?i)://|www\.")  # GitHub links bare URLs


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` for a terminal: control characters (escape sequences, bidi overrides) shown as
    ``\\xNN``/``\\uNNNN``; newlines and tabs kept, so whole reports can pass through."""
    return _CONTROL.sub(_visible, text)


def one_line(text: str) -> str:
    """``text`` with every control character shown, newlines and tabs too."""
    return _CONTROL_OR_NEWLINE.sub(_visible, text)


def md_text(text: str) -> str:
    """``text`` as literal markdown text, on one line: no syntax, no HTML, no line breaks."""
    text = _INLINE.sub(r"\\\1", html.escape(one_line(text), quote=False))
    text = _AUTOLINK.sub(lambda m: m.group().replace("/", "\\/").replace(".", "\\."), text)
    return _LINE_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", text)


def md_code(text: str, *, table: bool = False) -> str:
    """``text`` as an inline code span that nothing in it can end (a fence longer than its
    longest run of backticks), on one line; in a ``table`` cell ``|`` is escaped too (GitHub
    splits cells before it reads code spans)."""
    text = one_line(text)
    text = text.replace("|", "\\|") if table else text
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_text(text: str) -> str:
    """``text`` inside an HTML block (``<details><summary>``), where markdown is not read: all
    of ``& < > " '`` as entities, on one line."""
    return html.escape(one_line(text), quote=True)
