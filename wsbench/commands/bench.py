"""``wsbench bench``: the performance benchmarks.

The code lives in ``benchmarks/perf``, installed as the package ``wsbench_perf``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wsbench import validate
from wsbench.validate import arg

SECTIONS = ("overhead", "quantizers", "coding", "search", "screening", "end-to-end", "population",
            "device", "executors")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="measure harness, quantizer, coding and search speed (prints a table)",
        description="Measure the fitness harness against plain inference, the quantizers, Huffman "
                    "coding and file I/O, search efficiency, the end-to-end pipeline and batched "
                    "population evaluation; print figures, ratios and which goals hold.")
    p.add_argument("--quick", action="store_true",
                   help="smaller samples (about a minute on 2 cores); some goals not assessed")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the figures and provenance as JSON")
    p.add_argument("--section", action="append", choices=SECTIONS, dest="sections",
                   help="run only this section (repeatable; default: all, 'device' only with a "
                        "--device other than cpu); 'device': harness, batched population and bf16 "
                        "screening at ResNet-20 and ResNet-18 size on --device (population 100 "
                        "without --quick); 'executors' (only when named): benchmarks/quick-k.toml "
                        "through executors local, process and dask at 2 workers, 1 torch thread "
                        "per trial (--quick: 2 seeds)")
    p.add_argument("--device", type=arg(validate.device, "--device", str), default="cpu",
                   help="where the overhead, population and device sections run: cpu "
                        "(default), cuda or cuda:N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from wsbench.errors import ConfigError

    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    validate.device_available(device, "--device")
    try:
        from wsbench_perf.run import run_all
    except ImportError as exc:  # an install without the benchmarks package
        raise ConfigError(f"the benchmark package wsbench_perf is not installed ({exc})") from None
    run_all(quick=args.quick, sections=args.sections, json_path=args.json, device=device)
    return 0
