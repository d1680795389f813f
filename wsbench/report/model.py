"""A small document model that every report writer renders: sections of text, tables, figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def summary_of(caption: str) -> str:
    """The first sentence of a caption: what a collapsed table says it holds."""
    return caption.split(". ")[0].rstrip(".")


@dataclass
class Cell:
    text: str
    bold: bool = False   # best value of its column
    mark: str = ""       # "dagger": significantly worse than the column's best


@dataclass
class Table:
    label: str           # short id, e.g. "search-digits-cnn" (LaTeX \label, HTML id)
    caption: str
    columns: list[str]
    rows: list[list[Cell]]
    align: str = ""      # LaTeX column spec, e.g. "lrrr"; default: first left, rest right


@dataclass
class Figure:
    stem: Path           # figures/<name> without suffix; <stem>.png and <stem>.svg exist
    caption: str


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    level: int = 2
    lead: int = 1        # tables shown before the figures: the answer first, then the picture
    details: list[Table] = field(default_factory=list)  # supporting tables, collapsed in HTML

    def blocks(self) -> list[Table | Figure]:
        """Tables and figures in reading order (details apart)."""
        return [*self.tables[:self.lead], *self.figures, *self.tables[self.lead:]]


@dataclass
class Document:
    title: str
    intro: list[str]
    sections: list[Section]
    root: Path           # folder the document is written to (figure paths are relative to it)
