"""``fleetc report``: the report's data (``fleetc.views.report``) in one self-contained HTML file.

The page's CSS and JavaScript are package data (``report_assets/``), inlined: the file loads
nothing at view time (its Content-Security-Policy forbids it). Same inputs, same bytes.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from . import writer

ASSETS = "report_assets"


def _asset(name: str) -> str:
    return resources.files("fleetc.shell").joinpath(ASSETS, name).read_text(encoding="utf-8")


def _script_json(data: dict[str, Any]) -> str:
    """JSON that cannot end the <script> element it sits in."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(data: dict[str, Any]) -> bytes:
    parts = {
        "{{TITLE}}": html.escape(data.get("fleet") or "fleet"),
        "{{CSS}}": _asset("report.css"),
        "{{JS}}": _asset("report.js"),
        "{{DATA}}": _script_json(data),
    }
    text = _asset("report.html")
    # One pass, so a placeholder inside the data or the assets is never replaced.
    out, at = [], 0
    while True:
        start = text.find("{{", at)
        if start < 0:
            out.append(text[at:])
            break
        end = text.index("}}", start) + 2
        out += [text[at:start], parts[text[start:end]]]
        at = end
    return "".join(out).encode("utf-8")


def write(path: Path, content: bytes) -> None:
    """Write the report atomically (``writer.write_file``)."""
    writer.write_file(path, content)
