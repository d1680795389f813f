"""HTML writer: one self-contained ``report.html`` (inline CSS, figures as base64 PNG)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from wsbench.report.model import Cell, Document, Figure, Table, summary_of

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1150px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.6em;font-size:13px}
caption{caption-side:top;text-align:left;font-size:12px;color:#555;padding-bottom:.4em;max-width:1100px}
th,td{padding:3px 9px;text-align:right;white-space:nowrap}th:first-child,td:first-child{text-align:left}
th{white-space:normal;vertical-align:bottom;max-width:9em}td.t{white-space:normal;overflow-wrap:anywhere;min-width:10em;max-width:20em}.iqr{display:block;font-size:11px;color:#666}details{margin:.4em 0 1.2em}summary{cursor:pointer;color:#333}
thead th{border-top:2px solid #222;border-bottom:1px solid #222}tbody tr:last-child td{border-bottom:2px solid #222}
tbody tr:nth-child(even){background:#f6f6f6}figure{margin:1em 0 2em}img{max-width:100%}
figcaption{font-size:12px;color:#555}code{background:#f0f0f0;padding:0 3px}.wide{overflow-x:auto}
"""


def inline(text: str) -> str:
    """The little Markdown used in paragraphs: **bold** and `code`."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


LONG = 30  # characters: a longer cell is text (a label, a formula), which may wrap
IQR = re.compile(r"^(?P<value>\S+) (?P<spread>\([^()]*\))$")


def cell_html(c: Cell) -> str:
    """A cell; a "median (IQR)" cell puts its IQR on a second, smaller line, which halves the
    width of a summary table's columns (no table wider than the page)."""
    m = IQR.match(c.text)
    value, spread = (m["value"], m["spread"]) if m else (c.text, "")
    text = html.escape(value)
    text = f"<b>{text}</b>" if c.bold else text
    text += "&#8201;&dagger;" if c.mark == "dagger" else ""
    return text + (f'<span class="iqr">{html.escape(spread)}</span>' if spread else "")


def td(c: Cell) -> str:
    return f'<td class="t">{cell_html(c)}</td>' if len(c.text) > LONG else f"<td>{cell_html(c)}</td>"


def table_html(t: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(td(c) for c in row) + "</tr>" for row in t.rows)
    return (f'<div class="wide"><table id="{html.escape(t.label)}"><caption>{html.escape(t.caption)}'
            f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def figure_html(f: Figure) -> str:
    data = base64.b64encode(f.stem.with_suffix(".png").read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(f.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(f.caption)}</figcaption></figure>")


def render(doc: Document) -> str:
    parts = [f"<h1>{html.escape(doc.title)}</h1>"] + [f"<p>{inline(p)}</p>" for p in doc.intro]
    for s in doc.sections:
        parts.append(f"<h{s.level}>{html.escape(s.title)}</h{s.level}>")
        parts += [f"<p>{inline(p)}</p>" for p in s.paragraphs]
        parts += [table_html(b) if isinstance(b, Table) else figure_html(b) for b in s.blocks()]
        parts += [f"<details><summary>{html.escape(summary_of(t.caption))}</summary>{table_html(t)}"
                  f"</details>" for t in s.details]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


class HtmlReporter:
    name = "html"
    filename = "report.html"

    def write(self, doc: Document, out: Path) -> Path:
        from wsbench.files.cache import atomic_write_bytes

        path = Path(out) / self.filename
        atomic_write_bytes(path, render(doc).encode())
        return path
