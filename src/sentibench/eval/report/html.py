"""report.html: the Markdown report as one self-contained page (images inlined)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
    "th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}"
    "img{max-width:100%;display:block;margin:1em 0}code{background:#f3f3f3}"
)


def to_html(markdown: str, base: Path, title: str) -> str:
    """A self-contained HTML page: every image inlined as a base64 data URI."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")

    def inline_image(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
        token = tokens[index]  # markdown-it's render-rule form
        data = base64.b64encode((base / token.attrGet("src")).read_bytes()).decode("ascii")
        token.attrSet("src", f"data:image/png;base64,{data}")
        return renderer.image(tokens, index, options, env)

    parser.add_render_rule("image", inline_image)
    body = parser.render(markdown)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )
