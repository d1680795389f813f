"""Issue 30, part 3: on the MPEG NNC grid, does a Brevitas rounding beat the suite's own GPTQ?

    python benchmarks/gptq_vs_brevitas.py [--task cifar10-resnet20] [--qps -24 -22 -20 -18]
        [--calibration 256] [--calib-seed 0] [--json out.json]

The suite's best method rounds every shared weight onto NNC's uniform grid of one qp (step =
``step_size(qp)``) with its own GPTQ (:func:`wsbench.codec.gptq.gptq_round`). Here the same grid
is given to Brevitas 0.13.4 as a constant per-tensor scale (16-bit integers, so nothing clips: the
grid is NNC's exactly), and its GPTQ and GPFQ round onto it from the same calibration images
(the task's training split, the first ``calibration`` of an order seeded by ``calib_seed``, as
the nncodec space draws them). Every method yields integers times the same step, so they code to
about the same size; what differs is the rounding, measured by the validation and test metric of
the whole model (the rest left in fp32, no bias correction: the rounding alone).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def grid_quant(step: float, bits: int = 16):
    """A Brevitas weight quantizer whose grid is ``step`` times the integers (per tensor)."""
    from brevitas.inject.enum import ScalingImplType
    from brevitas.quant import Int8WeightPerTensorFloat

    top = 2 ** (bits - 1) - 1  # Brevitas' constant is the range: scale = const / top
    return Int8WeightPerTensorFloat.let(scaling_impl_type=ScalingImplType.CONST,
                                        scaling_const=step * top, bit_width=bits, narrow_range=True)


def brevitas_round(h, steps: dict[str, float], method: str, x) -> dict[str, np.ndarray]:
    """Brevitas' GPTQ or GPFQ onto each tensor's grid: weight name -> rounded values."""
    import copy

    import torch
    from brevitas.graph.gpfq import gpfq_mode
    from brevitas.graph.gptq import gptq_mode
    from wsbench_plugins.brevitas_space import quant_layers

    model = copy.deepcopy(h.view.model).eval()
    names = list(h.view.names)
    layers = quant_layers(model, names, {n: 16 for n in names}, "stats",
                          {n: grid_quant(steps[n]) for n in names})
    mode = gptq_mode if method == "gptq" else gpfq_mode
    with torch.no_grad():
        model(x[:64])
        with mode(model, use_quant_activations=False) as algo:
            for _ in range(algo.num_layers):
                for i in range(0, len(x), 64):
                    algo.model(x[i:i + 64])
                algo.update()
        return {n: layers[n].quant_weight().value.detach().cpu().numpy() for n in names}


def score(h, rounded: dict[str, np.ndarray]) -> tuple[float, float]:
    """Validation and test metric of the model with ``rounded`` in place of its shared weights."""
    import torch

    flat = torch.cat([torch.as_tensor(rounded[n], dtype=torch.float32).reshape(-1)
                      for n in h.view.names])
    scores = (h.score_weights(flat, "val"), h.score_weights(flat, "test"))
    h.view.restore()
    return scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="cifar10-resnet20")
    ap.add_argument("--qps", type=int, nargs="+", default=[-24, -22, -20, -18])
    ap.add_argument("--calibration", type=int, default=256)
    ap.add_argument("--calib-seed", type=int, default=0)
    ap.add_argument("--metric", default="f1")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import torch
    from wsbench_plugins.nncodec_adapter import step_size

    from wsbench.codec.gptq import gptq_round
    from wsbench.experiments.compress_run import CompressConfig
    from wsbench.experiments.trial import build_harness

    h = build_harness(CompressConfig(task=args.task, metric=args.metric).trial(), progress=False)
    gen = torch.Generator().manual_seed(args.calib_seed)
    order = torch.randperm(len(h.calib_x), generator=gen)
    x = h.calib_x[torch.sort(order[:args.calibration]).values]
    trained = {n: p.detach().cpu().numpy().copy() for n, p in zip(h.view.names, h.view.params)}
    base = (h.score_baseline("val"), h.score_baseline("test"))
    rows = []
    print(f"{args.task}: baseline val {base[0]:.4f} test {base[1]:.4f} ({args.metric}); "
          f"{args.calibration} calibration inputs, seed {args.calib_seed}", file=sys.stderr)
    for qp in args.qps:
        step = step_size(qp)
        steps = {n: step for n in h.view.names}
        methods = {"nearest": lambda: {n: np.round(w / step) * step for n, w in trained.items()},
                   "wsbench gptq": lambda: gptq_round(h.view.model, trained, steps, x),
                   "brevitas gptq": lambda: brevitas_round(h, steps, "gptq", x),
                   "brevitas gpfq": lambda: brevitas_round(h, steps, "gpfq", x)}
        for name, run in methods.items():
            t0 = time.perf_counter()
            rounded = run()
            seconds = time.perf_counter() - t0
            on_grid = max(float(np.abs(r / step - np.round(r / step)).max()) for r in rounded.values())
            val, test = score(h, rounded)
            rows.append({"qp": qp, "step": step, "method": name, "val": val, "test": test,
                         "val_drop": 100 * (base[0] - val), "test_drop": 100 * (base[1] - test),
                         "seconds": seconds, "off_grid": on_grid})
            print(f"qp {qp} {name}: val drop {rows[-1]['val_drop']:.2f} test drop "
                  f"{rows[-1]['test_drop']:.2f} pt, {seconds:.1f} s", file=sys.stderr)
    print(f"| qp | method | val drop (pt) | test drop (pt) | rounding s |\n|---:|:---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['qp']} | {r['method']} | {r['val_drop']:.2f} | {r['test_drop']:.2f} | "
              f"{r['seconds']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"task": args.task, "baseline": base, "rows": rows,
                                         "calibration": args.calibration,
                                         "calib_seed": args.calib_seed}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
