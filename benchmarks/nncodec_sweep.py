"""The MPEG NNC standard (NNCodec, DeepCABAC, dependent quantization) over its quantization
parameter, scored by wsbench's own harness: the baseline codec of issue 15.

    python benchmarks/nncodec_sweep.py [--task cifar10-resnet20] [--qp=-30..-20 | --qp=-28,-26]
        [--weights wsbench|nnc-pytorch] [--integers] [--repeat 3] [--out FILE.json]

Needs the optional extra (pip install -e '.[nncodec]'). For each qp it codes the task model's
state dict with :mod:`wsbench_plugins.nncodec_adapter`, decodes it, writes every decoded tensor
into the model and scores it with the task's harness (``build_harness`` /
``FitnessHarness.score_weights``: the metric, macro F1 by default, on the task's validation and
test splits). Columns:

* ``bytes``: the NNC bitstream of the whole state dict; ``CR file`` = the original state dict's
  bytes (every tensor at its own width, as ``CompressedModel.original_bytes``) / ``bytes``;
* ``w bytes``, ``w bits``, ``CR w``: a bitstream of the shared weights alone (wsbench's pooled
  Conv/Linear ``.weight``), its bits per weight, and their fp32 bytes / its bytes;
* ``val``, ``test``: the metric of the decoded model; ``enc s``, ``dec s``: the fastest of
  ``--repeat`` encodes and decodes of the whole state dict;
* ``err/step``: the largest |decoded - original| over the shared weights, in quantization steps.

``--weights wsbench`` (default) codes wsbench's shared weights at qp and every other float
tensor (biases, BatchNorm) at NNCodec's nonweight qp (-75, near-lossless). ``--weights
nnc-pytorch`` uses the rule of NNCodec's PyTorch front end (``nncodec.nn.encode(model)``, which the
issue measured): every tensor of >= 2 dimensions and every 1-D ``.weight`` (BatchNorm's scale
too) at qp. Integer buffers (BatchNorm's ``num_batches_tracked``, unused at inference) are left
out as that front end does, unless ``--integers`` (about 50 bytes each).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

NNC_PYTORCH_NOT_WEIGHT = (".bias", ".running_mean", ".running_var", ".weight_scaling", "gamma")


def parse_qps(text: str) -> list[int]:
    """``-30..-20`` (inclusive) or ``-28,-26,-24``."""
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            step = 1 if hi >= lo else -1
            return list(range(lo, hi + step, step))
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"qp list {text!r}: use -30..-20 or -28,-26") from None


def nnc_pytorch_weights(arrays: dict[str, np.ndarray]) -> list[str]:
    """The tensors NNCodec's PyTorch front end quantizes at qp (its parameter-type guess)."""
    return [n for n, a in arrays.items()
            if a.ndim > 1 or (a.ndim == 1 and ".weight" in n
                              and not any(s in n for s in NNC_PYTORCH_NOT_WEIGHT))]


def timed(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def sweep(task: str, qps: list[int], weights_rule: str, integers: bool, repeat: int,
          progress: bool = True) -> dict:
    import torch

    from wsbench.experiments.compress_run import CompressConfig
    from wsbench.experiments.provenance import machine, versions
    from wsbench.experiments.trial import build_harness
    from wsbench_plugins import nncodec_adapter as nnc

    nnc._nnc()  # one clear error without the extra, and the import outside the timings
    h = build_harness(CompressConfig(task=task).trial(), progress=progress)
    model = h.model
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    original_bytes = sum(t.numel() * t.element_size() for t in state.values())
    arrays = {k: t.numpy() for k, t in state.items() if t.is_floating_point() or integers}
    shared = list(h.view.names)
    n_shared = h.view.numel
    coarse = shared if weights_rule == "wsbench" else nnc_pytorch_weights(arrays)
    baseline = {"val": h.score_baseline("val"), "test": h.score_baseline("test")}
    rows = []
    try:
        for qp in qps:
            bitstream, enc_s = timed(lambda: nnc.encode(arrays, qp, weights=coarse), repeat)
            decoded, dec_s = timed(lambda: nnc.decode(bitstream), repeat)
            w_stream = nnc.encode({n: arrays[n] for n in shared}, qp, weights=shared)
            with torch.no_grad():
                model.load_state_dict({k: torch.from_numpy(v).reshape(state[k].shape)
                                       .to(state[k].dtype) for k, v in decoded.items()},
                                      strict=False)
            flat = torch.cat([torch.from_numpy(decoded[n]).reshape(-1) for n in shared])
            flat = flat.to(h.view.original.device)
            scores = {s: h.score_weights(flat, s) for s in ("val", "test")}
            err = max(float(np.abs(decoded[n].reshape(arrays[n].shape) - arrays[n]).max())
                      for n in shared)
            rows.append({
                "qp": qp, "step": nnc.step_size(qp), "bytes": len(bitstream),
                "cr_file": original_bytes / len(bitstream),
                "weights_bytes": len(w_stream), "weights_bits": 8 * len(w_stream) / n_shared,
                "cr_weights": 4 * n_shared / len(w_stream),
                "val": scores["val"], "test": scores["test"],
                "encode_s": enc_s, "decode_s": dec_s, "max_err_steps": err / nnc.step_size(qp),
            })
            if progress:
                print(f"qp {qp}: {len(bitstream)} bytes, val {scores['val']:.4f}, "
                      f"test {scores['test']:.4f}", file=sys.stderr)
    finally:
        with torch.no_grad():
            model.load_state_dict(state)
        h.view.restore()
    return {
        "task": task, "metric": h.metric_name, "weights_rule": weights_rule,
        "integers": integers, "repeat": repeat, "original_bytes": original_bytes,
        "coded_tensors": len(arrays), "coarse_tensors": len(coarse), "n_shared": n_shared,
        "settings": {"use_dq": True, "row_skipping": True, "param_opt": True,
                     "nonweight_qp": nnc.NONWEIGHT_QP, "qp_density": nnc.QP_DENSITY},
        "baseline": baseline, "rows": rows,
        "versions": {**versions(), "nncodec": _version("nncodec"), "numpy": np.__version__},
        "machine": machine(),
    }


def _version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def table(result: dict) -> str:
    m = result["metric"]
    head = ["qp", "bytes", "CR file", "w bytes", "w bits", "CR w", f"val {m}", f"test {m}",
            "enc s", "dec s", "err/step"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    b = result["baseline"]
    lines.append(f"| fp32 | {result['original_bytes']} | 1.00 | {4 * result['n_shared']} | 32.00 "
                 f"| 1.00 | {b['val']:.4f} | {b['test']:.4f} | | | |")
    for r in result["rows"]:
        lines.append(f"| {r['qp']} | {r['bytes']} | {r['cr_file']:.2f} | {r['weights_bytes']} | "
                     f"{r['weights_bits']:.2f} | {r['cr_weights']:.2f} | {r['val']:.4f} | "
                     f"{r['test']:.4f} | {r['encode_s']:.2f} | {r['decode_s']:.3f} | "
                     f"{r['max_err_steps']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="cifar10-resnet20")
    p.add_argument("--qp", type=parse_qps, default=parse_qps("-30..-20"),
                   help="qp values, with an = sign: --qp=-30..-20 (inclusive) or --qp=-28,-26 "
                        "(default -30..-20)")
    p.add_argument("--weights", choices=("wsbench", "nnc-pytorch"), default="wsbench",
                   help="which tensors get qp (the rest: nonweight qp -75)")
    p.add_argument("--integers", action="store_true", help="code integer buffers too")
    p.add_argument("--repeat", type=int, default=3, help="timings: fastest of N (default 3)")
    p.add_argument("--out", type=Path, help="JSON file (default results/nncodec-sweep-TASK.json)")
    args = p.parse_args(argv)
    if args.repeat < 1 or not args.qp:
        p.error("--repeat must be >= 1 and --qp must name at least one value")
    from wsbench.errors import WsbenchError

    try:
        result = sweep(args.task, args.qp, args.weights, args.integers, args.repeat)
    except WsbenchError as exc:
        print(f"nncodec_sweep: error: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path("results") / f"nncodec-sweep-{args.task}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
