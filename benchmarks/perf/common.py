"""What every section shares: the report it fills, timers, and synthetic task data."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable


@dataclass
class Row:
    section: str
    metric: str
    value: float | str | None
    unit: str = ""
    note: str = ""


@dataclass
class Goal:
    section: str
    goal: str
    measured: str
    holds: bool | None  # None: not assessed in this run (said why in measured)


@dataclass
class Report:
    quick: bool
    device: str = "cpu"  # where the harness sections run (``wsbench bench --device``)
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)

    def add(self, section: str, metric: str, value: float | str | None, unit: str = "",
            note: str = "") -> None:
        self.rows.append(Row(section, metric, value, unit, note))

    def goal(self, section: str, goal: str, measured: str, holds: bool | None) -> None:
        self.goals.append(Goal(section, goal, measured, holds))

    def as_dict(self) -> dict[str, Any]:
        return {"quick": self.quick, "device": self.device, "rows": [asdict(r) for r in self.rows],
                "goals": [asdict(g) for g in self.goals]}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call took, and its result."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` calls: the figure least disturbed by other processes."""
    return min(timed(fn)[0] for _ in range(max(1, repeat)))


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def synthetic_task(model: Any, n_val: int, n_test: int, shape: tuple[int, ...],
                   num_classes: int = 10, seed: int = 0) -> Any:
    """A TaskData of random inputs and labels: timing needs the sizes, not a trained model."""
    import torch

    from wsbench.tasks.task import TaskData

    gen = torch.Generator().manual_seed(seed)
    rand = lambda n: torch.randn((n, *shape), generator=gen)  # noqa: E731
    labels = lambda n: torch.randint(0, num_classes, (n,), generator=gen)  # noqa: E731
    return TaskData(model.eval(), rand(n_val), labels(n_val), rand(n_test), labels(n_test),
                    num_classes)


def fmt(value: float | str | None) -> str:
    """A figure with about 3-4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value == 0 or 0.01 <= abs(value) < 1e6:
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:.3g}"
