"""Sections 1 and 6: harness cost vs plain inference, and batched vs looped populations."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Report, best_of, median, synthetic_task, timed

S1 = "1 harness overhead"
S6 = "6 population evaluation"


def digits_data() -> Any:
    from wsbench import plugins

    return plugins.create("task", "digits-cnn").load(progress=False)


def resnet20_data(n_val: int) -> Any:
    """ResNet-20 (0.27M weights, kaiming-initialised) on random 32x32 images: the cost of a
    CIFAR evaluation without waiting for a trained checkpoint."""
    import torch
    from wsbench_plugins.cifar.models import resnet20

    torch.manual_seed(0)
    return synthetic_task(resnet20(), n_val, 16, (3, 32, 32))


def harness(data: Any, device: str = "cpu", **options: Any) -> Any:
    from wsbench import plugins
    from wsbench.search.fitness import FitnessHarness

    return FitnessHarness(data, plugins.create("quantizer", "uniform"),
                          plugins.create("space", "k"), device=device, **options)


def _plain_pass(h: Any):
    """One plain inference pass over the validation tensors: forward only, same batches."""
    import torch

    x, bs = h.splits["val"][0], h.batch_size

    def run() -> None:
        with torch.inference_mode():
            for i in range(0, len(x), bs):
                h.model(x[i:i + bs])
        if x.is_cuda:  # kernels run asynchronously: time them, not their launch
            torch.cuda.synchronize(x.device)
    return run


class _ForwardClock:
    """Seconds spent inside ``model``'s forward while active (hooks on the top module)."""

    def __init__(self, model: Any) -> None:
        self.model, self.seconds, self._start, self._hooks = model, 0.0, 0.0, []

    def __enter__(self) -> "_ForwardClock":
        import time

        def pre(*_: Any) -> None:
            self._start = time.perf_counter()

        def post(*_: Any) -> None:
            self.seconds += time.perf_counter() - self._start

        self._hooks = [self.model.register_forward_pre_hook(pre),
                       self.model.register_forward_hook(post)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for hook in self._hooks:
            hook.remove()


def overhead(report: Report, label: str, data: Any, blocks: int, per_block: int) -> None:
    """Harness time per unique evaluation vs a plain pass, measured in alternating blocks."""
    h = harness(data, report.device)
    plain = _plain_pass(h)
    ks = np.random.default_rng(0).permutation(np.arange(2, 1025)).astype(float)
    plain()
    h.evaluate(ks[:1, None])  # warm-up
    pos, t_plain, t_eval = 1, [], []
    inside = _ForwardClock(h.model)
    for _ in range(blocks):
        t_plain.append(timed(lambda: [plain() for _ in range(per_block)])[0] / per_block)
        X = ks[pos:pos + per_block, None]
        pos += per_block
        with inside:
            t_eval.append(timed(lambda: h.evaluate(X))[0] / per_block)
    assert h.unique == pos, "every timed evaluation must be a unique one"
    rest = (sum(t_eval) * per_block - inside.seconds) / (blocks * per_block)
    p, e = median(t_plain), median(t_eval)
    ratio = median([b / a for a, b in zip(t_plain, t_eval)])  # paired blocks: robust to drift
    q = h.quantization(np.array([256.0]))
    t_quant = best_of(lambda: h.quantization(np.array([256.0])), 5)
    t_write = best_of(lambda: h.write_quantization(q), 5)
    t_first, _ = timed(lambda: h.score_quantization(q, "val"))
    t_again = best_of(lambda: h.score_quantization(q, "val"), 5)  # remembered by content
    h.view.restore()
    n_val = len(h.splits["val"][0])
    report.add(S1, f"{label}: plain inference pass", p * 1e3, "ms",
               f"{n_val} val images, batch {h.batch_size}, {h.view.numel:,} shared weights")
    report.add(S1, f"{label}: harness per unique evaluation", e * 1e3, "ms",
               f"median of {blocks} blocks of {per_block}")
    report.add(S1, f"{label}: plain passes/s | unique evals/s", f"{1 / p:,.1f} | {1 / e:,.1f}")
    report.add(S1, f"{label}: of which quantize | write back",
               f"{t_quant * 1e3:.3f} | {t_write * 1e3:.3f}", "ms", "K=256, fastest of 5")
    report.add(S1, f"{label}: full-split score of a solution, first | seen before",
               f"{t_first * 1e3:.1f} | {t_again * 1e3:.3f}", "ms",
               f"{t_first / t_again:,.0f}x: re-scores of equal content are remembered "
               f"(digest + write back), as the runner's trials sharing a search re-score")
    report.add(S1, f"{label}: harness work outside the forward, per evaluation", rest * 1e3,
               "ms", f"{rest / p:.1%} of a plain pass (clock hooked around the model's forward)")
    estimate = 1 + rest / p
    report.add(S1, f"{label}: harness / plain pass, from the work outside the forward", estimate,
               "x", "(plain pass + that work) / plain pass")
    report.add(S1, f"{label}: harness / plain pass, timed directly", ratio, "x",
               f"median of {blocks} paired blocks; forward times on this VM swing +-20%")
    report.goal(S1, f"{label}: harness time per evaluation <= 1.10x a plain pass",
                f"{ratio:.3f}x (from the work outside the forward: {estimate:.3f}x)", ratio <= 1.10)


def population(report: Report, label: str, data: Any, pop: int, repeats: int,
               with_bf16: bool = True) -> dict[str, float]:
    """Loop vs one vmapped forward for a population of ``pop`` unique decisions (and bf16,
    unless ``with_bf16`` is false: emulated bf16 is ~40x slower on a CPU without it);
    returns the seconds per evaluation of each ("loop", "batched", "bf16"; nan: not timed)."""
    loop = harness(data, report.device, population_eval="loop")
    batched = harness(data, report.device, population_eval="batched", population_batch=pop)
    bf16 = (harness(data, report.device, population_eval="loop", screen_dtype="bfloat16")
            if with_bf16 else None)
    ks = np.random.default_rng(1).permutation(np.arange(2, 1025)).astype(float)
    need = pop * (repeats + 1)
    assert need <= len(ks)
    times: dict[str, list[float]] = {"loop": [], "batched": [], "bf16": [] if bf16 else [np.nan]}
    diff = 0.0
    for r in range(repeats + 1):
        X = ks[r * pop:(r + 1) * pop, None]
        t_loop, F_loop = timed(lambda: loop.evaluate(X))
        t_batched, F_batched = timed(lambda: batched.evaluate(X))
        t_bf16, _ = timed(lambda: bf16.evaluate(X)) if bf16 else (np.nan, None)
        diff = max(diff, float(np.abs(F_loop - F_batched).max()))
        if r:  # the first population warms up
            times["loop"].append(t_loop / pop)
            times["batched"].append(t_batched / pop)
            if bf16:
                times["bf16"].append(t_bf16 / pop)
    lp, bt, bf = (median(times[k]) for k in ("loop", "batched", "bf16"))
    n_val = len(loop.splits["val"][0])
    report.add(S6, f"{label}: loop, per evaluation", lp * 1e3, "ms",
               f"population {pop}, {n_val} val images, median of {repeats}")
    report.add(S6, f"{label}: batched (vmap), per evaluation", bt * 1e3, "ms",
               f"max |objective difference| vs loop {diff:.2g}")
    report.add(S6, f"{label}: batched / loop", bt / lp, "x", "< 1: batched is faster")
    report.add(S6, f"{label}: loop under bf16 autocast, per evaluation",
               bf * 1e3 if bf16 else "not timed", "ms" if bf16 else "",
               f"screening only; {batched.device.type} autocast"
               if bf16 else "no native bf16 on this CPU")
    chosen = "batched" if batched.device.type == "cuda" else "loop"
    report.add(S6, f"{label}: default on this device", chosen, "", "auto: batched on CUDA only")
    return {"loop": lp, "batched": bt, "bf16": bf}


def run(report: Report, quick: bool) -> None:
    digits = digits_data()
    overhead(report, "digits-cnn", digits, blocks=4 if quick else 8, per_block=25 if quick else 50)
    r20 = resnet20_data(256 if quick else 5000)
    overhead(report, "resnet20-size", r20, blocks=10 if quick else 6, per_block=1 if quick else 2)
    report.add(S1, "GPU figures", "not taken", "", "no GPU on this machine")


def run_population(report: Report, quick: bool) -> None:
    population(report, "digits-cnn", digits_data(), pop=32, repeats=2 if quick else 5)
    population(report, "resnet20-size", resnet20_data(128 if quick else 1000),
               pop=4 if quick else 8, repeats=1 if quick else 3)
