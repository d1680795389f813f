"""The GPU run's last step: the published protocol on the new ResNet-18, then on ResNet-20.

benchmarks/paper-cifar10.toml as it stands (NSGA-II 100 x 100, full validation in fp32, the
merges, Huffman) with only the task, the seeds and the device changed, one seed more per
``wsbench run`` into the same results folder: finished trials are never run again, so each
call adds one seed, and the loop stops when the next seed would not fit the time left.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from gpu_common import ROOT, Clock, Plan, call
from gpu_steps import TASK, checkpoint

PROTOCOL = ROOT / "benchmarks" / "paper-cifar10.toml"
R18_SHARE = 0.7  # of the time left, when ResNet-20 still follows
# 4 x 2 generations over K <= 8: a merge pass scores up to K - 1 merged models per member
TINY = {"optimizers": [{"name": "nsga2", "pop_size": 4, "label": "nsga2"}],
        "spaces": [{"name": "k", "k_max": 8, "label": "k"}], "budget": 8, "max_requested": 8}
TINY_LIMITS = {"val_limit": 20, "test_limit": 20}


def toml_value(value: object) -> str:
    """A TOML literal for the simple values an experiment file holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def with_keys(text: str, keys: dict[str, object]) -> str:
    """``text`` with these top-level keys replaced (or added before the first table)."""
    out, pending, in_table = [], dict(keys), False
    for line in text.splitlines():
        if line.startswith("[") and not in_table:
            out += [f"{k} = {toml_value(v)}" for k, v in pending.items()]
            pending, in_table = {}, True
        key = line.split("=", 1)[0].strip() if "=" in line and not line.startswith("#") else None
        if not in_table and key in keys:
            if key in pending:
                out.append(f"{key} = {toml_value(pending.pop(key))}")
            continue
        out.append(line)
    out += [f"{k} = {toml_value(v)}" for k, v in pending.items()]
    return "\n".join(out) + "\n"


def experiment_file(plan: Plan, name: str, task: object, seeds: list[int]) -> Path:
    """The protocol file for one task and these seeds (checked to parse as TOML)."""
    keys = {"name": name, "description": f"paper-cifar10.toml on {name.rsplit('-', 1)[-1]} "
                                         f"({'tiny rehearsal' if plan.tiny else 'as published'})",
            "tasks": [task], "seeds": seeds, "device": plan.device, **(TINY if plan.tiny else {})}
    text = with_keys(PROTOCOL.read_text(), keys)
    tomllib.loads(text)
    path = plan.results / "protocol" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def tasks(plan: Plan) -> list[tuple[str, object]]:
    """(experiment name, task entry) for the ResNet-18 (if trained) and the ResNet-20."""
    limits = TINY_LIMITS if plan.tiny else {}
    out = []
    ckpt = checkpoint(plan)
    if ckpt is not None:
        out.append(("paper-cifar10-resnet18",
                    {"name": TASK, "label": TASK, "checkpoint": str(ckpt), **limits}))
    r20 = "cifar10-resnet20"
    out.append(("paper-cifar10-resnet20", {"name": r20, "label": r20, **limits} if limits else r20))
    return out


def seeds_until(plan: Plan, clock: Clock, name: str, task: object, deadline: float) -> tuple[str, int]:
    """Run seeds 0, 1, ... while the next one fits before ``deadline``; (status, seeds done)."""
    folder = plan.results / name
    log = plan.results / "protocol" / f"{name}.log"
    times: list[float] = []
    for n in range(1, plan.seeds + 1):
        left = min(deadline - clock.elapsed(), clock.left())
        if times and left < 1.25 * max(times):
            return f"stopped: seed {n - 1} would need ~{max(times):.0f} s, {left:.0f} s left", n - 1
        start = clock.elapsed()
        path = experiment_file(plan, name, task, list(range(n)))
        status = call(plan.wsbench("run", str(path), "--out", str(folder), "--no-progress"),
                      log, left, plan.env())
        if status != "ok":
            return status, n - 1
        times.append(clock.elapsed() - start)
    return "ok", plan.seeds


def report(plan: Plan, clock: Clock, name: str, task: object, seeds: int) -> str:
    """Record the file of the seeds that finished (all done: nothing runs), then report."""
    folder = plan.results / name
    log = plan.results / "protocol" / f"{name}.log"
    path = experiment_file(plan, name, task, list(range(seeds)))
    status = call(plan.wsbench("run", str(path), "--out", str(folder), "--no-progress"),
                  log, min(120, clock.left()), plan.env())
    if status == "ok":
        status = call(plan.wsbench("report", str(folder), "--no-figures"), log,
                      min(120, clock.left()), plan.env())
    return status


def protocol(plan: Plan, clock: Clock) -> tuple[str, str]:
    """Each task's seeds in turn (ResNet-18 first, with R18_SHARE of the time), then reports."""
    notes, worst = [], "ok"
    runs = tasks(plan)
    for i, (name, task) in enumerate(runs):
        share = R18_SHARE if i < len(runs) - 1 else 1.0
        deadline = clock.elapsed() + share * max(0.0, clock.left())
        status, seeds = seeds_until(plan, clock, name, task, deadline)
        if seeds:
            rep = report(plan, clock, name, task, seeds)
            status = status if rep == "ok" else f"{status}; report {rep}"
        notes.append(f"{name}: {seeds} seed(s), {status}")
        worst = worst if status == "ok" or status.startswith("stopped") else status
    if checkpoint(plan) is None:
        notes.insert(0, "no ResNet-18 checkpoint (train did not finish): ResNet-20 only")
    return worst, "; ".join(notes)
