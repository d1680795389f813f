"""Markdown writer: ``report.md`` with pipe tables and links to the PNG figures."""

from __future__ import annotations

from pathlib import Path

from wsbench.report.model import Cell, Document, Table, summary_of


def cell_md(c: Cell) -> str:
    text = c.text.replace("|", "\\|")
    text = f"**{text}**" if c.bold else text
    return text + (" †" if c.mark == "dagger" else "")


def table_md(t: Table) -> str:
    align = t.align or "l" + "r" * (len(t.columns) - 1)
    lines = [f"*{t.caption}*", "", "| " + " | ".join(t.columns) + " |",
             "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(cell_md(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def render(doc: Document) -> str:
    parts = [f"# {doc.title}", *doc.intro]
    for s in doc.sections:
        parts.append("#" * s.level + " " + s.title)
        parts += s.paragraphs
        for b in s.blocks():
            if isinstance(b, Table):
                parts.append(table_md(b))
            else:
                rel = b.stem.with_suffix(".png").relative_to(doc.root)
                parts.append(f"![{b.stem.name}]({rel.as_posix()})\n\n*{b.caption}*")
        # GitHub renders a table inside <details> when blank lines surround it
        parts += [f"<details><summary>{summary_of(t.caption)}</summary>\n\n{table_md(t)}\n\n"
                  f"</details>" for t in s.details]
    return "\n\n".join(parts) + "\n"


class MarkdownReporter:
    name = "markdown"
    filename = "report.md"

    def write(self, doc: Document, out: Path) -> Path:
        from wsbench.files.cache import atomic_write_bytes

        path = Path(out) / self.filename
        atomic_write_bytes(path, render(doc).encode())
        return path
