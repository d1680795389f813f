"""Finding data that ships beside a checkout (``shared/data/``), for tasks that need a file."""

from __future__ import annotations

from pathlib import Path


def repo_roots() -> list[Path]:
    """This checkout, plus folders that look like one (pyproject.toml or .git) above the cwd."""
    roots: list[Path] = [Path(__file__).resolve().parents[2]]
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for p in (start, *start.parents):
            if ((p / "pyproject.toml").exists() or (p / ".git").exists()) and p not in roots:
                roots.append(p)
    return roots


def data_dirs() -> list[Path]:
    """Where shared data may be: ``shared/data`` beside or inside a checkout, and ``data/``."""
    out: list[Path] = []
    for root in repo_roots():
        for base in (root.parent / "shared" / "data", root / "data", root / "shared" / "data"):
            if base not in out:
                out.append(base)
    return out


def shared_data(relative: str | Path) -> Path | None:
    """The first ``<data dir>/<relative>`` that exists, None when none does."""
    for base in data_dirs():
        if (base / relative).exists():
            return base / relative
    return None
