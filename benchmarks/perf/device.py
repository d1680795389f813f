"""Section 7: the harness on ``--device`` (a GPU) at ResNet-20 and ResNet-18 size.

The CPU sections time the digits CNN and a ResNet-20-sized model; a GPU changes which
population evaluation wins and what bf16 screening buys, and only there does the paper's
ResNet-18 fit a full-validation search. So this section times, on the chosen device: the
harness against a plain pass, a batched (vmapped) population against a loop, and bf16
screening against fp32, at population 100 over the 5,000-image validation size.
"""

from __future__ import annotations

from typing import Any

from .common import Report, synthetic_task
from .harness import overhead, population

S7 = "7 device"
BATCHED_GOAL = 3.0  # batched at least this many times faster than a loop, per evaluation


def model_data(arch: str, n_val: int) -> Any:
    """A kaiming-initialised ``arch`` on random images: timing needs the sizes, not training."""
    import torch
    from wsbench_plugins.cifar.models import build_model

    torch.manual_seed(0)
    return synthetic_task(build_model(arch, 10), n_val, 16, (3, 32, 32))


def sizes(quick: bool) -> dict[str, int]:
    """Validation images, population, timed populations, overhead blocks and their size."""
    if quick:  # a rehearsal on a CPU: every code path, little of the cost
        return {"n_val": 16, "pop": 2, "repeats": 1, "blocks": 1, "per_block": 1}
    return {"n_val": 5000, "pop": 100, "repeats": 2, "blocks": 5, "per_block": 4}


def run(report: Report, quick: bool) -> None:
    from wsbench_plugins.cifar.training import bf16_supported

    n = sizes(quick)
    with_bf16 = bf16_supported(report.device)
    for arch in ("resnet20", "resnet18"):
        label = f"{arch}-size on {report.device}"
        data = model_data(arch, n["n_val"])
        overhead(report, label, data, blocks=n["blocks"], per_block=n["per_block"])
        t = population(report, label, data, pop=n["pop"], repeats=n["repeats"],
                       with_bf16=with_bf16)
        speedup = t["loop"] / t["batched"]
        report.add(S7, f"{label}: loop / batched, per evaluation", speedup, "x",
                   f"population {n['pop']}, {n['n_val']} images; > 1: batched is faster")
        report.add(S7, f"{label}: fp32 / bf16 screening (loop), per evaluation",
                   t["loop"] / t["bf16"] if with_bf16 else "not timed", "x" if with_bf16 else "",
                   "> 1: bf16 is faster" if with_bf16 else "no native bf16 on this device")
        assessed = n["pop"] >= 100 and report.device.startswith("cuda")
        report.goal(S7, f"{label}: batched >= {BATCHED_GOAL:g}x a loop per evaluation at "
                        f"population 100", f"{speedup:.2f}x at population {n['pop']}"
                    + ("" if assessed else " (not assessed: needs CUDA and no --quick)"),
                    speedup >= BATCHED_GOAL if assessed else None)
        del data
        _free(report.device)


def _free(device: str) -> None:
    """Give cached GPU memory back between models (ResNet-18 stacks take gigabytes)."""
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
