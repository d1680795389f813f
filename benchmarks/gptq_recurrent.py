"""GPTQ on a recurrent kernel's matrices against GPTQ on the calibrated-through layers alone.

    python benchmarks/gptq_recurrent.py [--task shakespeare-gru] [--qps -18 -16 -14 -12]

The GRU of ``shakespeare-gru`` runs its two Linear matrices through ATen's fused ``torch.gru``,
which calls no module, so before ``wsbench.codec.gptq`` watched recurrent kernels it rounded
them to nearest and gave GPTQ the head alone (computed with the trained matrices in place, as
the head came first in its order then). This prints, per qp (one for all shared tensors), the
validation and test drop of: every matrix rounded to nearest; that former treatment ("head
only"); and GPTQ on all of them. No bias correction, the rest of the model trained; the task's
calibration inputs (its 64 training windows) as the nncodec space uses them.
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="shakespeare-gru")
    ap.add_argument("--qps", type=int, nargs="+", default=[-18, -16, -14, -12])
    ap.add_argument("--metric", default="accuracy")
    args = ap.parse_args(argv)
    from gptq_vs_brevitas import score
    from wsbench_plugins.nncodec_adapter import step_size

    from wsbench.codec.gptq import _forward_order, gptq_round
    from wsbench.experiments.compress_run import CompressConfig
    from wsbench.experiments.trial import build_harness

    h = build_harness(CompressConfig(task=args.task, metric=args.metric).trial(), progress=False)
    model, x = h.view.model, h.calib_x
    trained = {n: p.detach().cpu().numpy().copy() for n, p in zip(h.view.names, h.view.params)}
    _, _, kernel = _forward_order(model, x, list(trained))
    base = (h.score_baseline("val"), h.score_baseline("test"))
    print(f"{args.task}: {len(x)} calibration inputs; kernel matrices {sorted(kernel)}")
    print("| qp | nearest | GPTQ, the rest only (before) | GPTQ, every matrix (now) |\n"
          "|---:|---:|---:|---:|")
    for qp in args.qps:
        step = step_size(qp)
        nearest = {n: np.round(w / step) * step for n, w in trained.items()}
        rest = {n: w for n, w in trained.items() if n not in kernel}
        before = nearest | gptq_round(model, rest, {n: step for n in rest}, x)
        now = gptq_round(model, trained, {n: step for n in trained}, x)
        cells = []
        for rounded in (nearest, before, now):
            val, test = score(h, rounded)
            cells.append(f"{100 * (base[0] - val):.2f} ({100 * (base[1] - test):.2f})")
        print(f"| {qp} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
