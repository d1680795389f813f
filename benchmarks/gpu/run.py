"""Paper scale on a GPU machine in one call: install, bench, train the ResNet-18, the protocol.

Started by run.sh. Standard library only (wsbench may not be installed yet): every step runs
wsbench in a child process under its own timeout, cut to what is left of --budget, and after
every step $OUT gets status.json and a fresh results.tar.gz, so a run that is cut off still
returns what it finished. ``--tiny`` is the CPU rehearsal that the test suite runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from gpu_common import ROOT, Clock, Plan, publish, tail
from gpu_protocol import protocol
from gpu_steps import bench, install, train

STEPS = {"install": install, "bench": bench, "train": train, "protocol": protocol}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/gpu/run.sh", description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true",
                   help="CPU rehearsal: 1 epoch on 1,000 images, population 4 x 2 generations, "
                        "20 validation and test images (100 in training), bench at population 2")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds for the whole run (default 560; --tiny 1200)")
    p.add_argument("--steps", default=",".join(STEPS),
                   help=f"comma-separated subset of {','.join(STEPS)} (default: all, in order)")
    p.add_argument("--device", default=None, help="default cuda; --tiny: cpu")
    p.add_argument("--epochs", type=int, default=None, help="ResNet-18 epochs (default 35; --tiny 1)")
    p.add_argument("--batch-size", type=int, default=None, help="default 512; --tiny 128")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 0.4; --tiny 0.1)")
    p.add_argument("--seeds", type=int, default=None, help="most protocol seeds (default 5; --tiny 1)")
    p.add_argument("--work", type=Path, default=ROOT / ".gpu-work",
                   help="checkpoints, caches and results (kept between calls on a warm machine)")
    p.add_argument("--wheels", type=Path, default=ROOT / ".gpu" / "wheels",
                   help="wheels for packages the machine lacks (benchmarks/gpu/prepare.sh)")
    p.add_argument("--data", type=Path, default=None,
                   help="CIFAR-10 (default: .gpu/data/cifar10-jpeg.tar.xz if there, else "
                        "wsbench's own default)")
    p.add_argument("--part-mb", type=float, default=15.0,
                   help="checkpoint part size in MiB (files back from the machine: 16 MiB each)")
    return p.parse_args(argv)


def make_plan(a: argparse.Namespace) -> Plan:
    out = Path(os.environ.get("OUT") or "gpu-out").resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = a.data or ROOT / ".gpu" / "data" / "cifar10-jpeg.tar.xz"
    pick = lambda value, full, tiny: value if value is not None else (tiny if a.tiny else full)  # noqa: E731
    return Plan(out=out, work=a.work.resolve(), wheels=a.wheels.resolve(),
                data=data.resolve() if data.exists() else None,
                device=pick(a.device, "cuda", "cpu"), tiny=a.tiny,
                epochs=pick(a.epochs, 35, 1), batch_size=pick(a.batch_size, 512, 128),
                lr=pick(a.lr, 0.4, 0.1), seeds=pick(a.seeds, 5, 1),
                part_bytes=int(a.part_mb * (1 << 20)))


def main(argv: list[str]) -> int:
    a = parse(argv)
    chosen = [s.strip() for s in a.steps.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(STEPS))
    if unknown:
        print(f"run.sh: unknown step(s) {', '.join(unknown)}; valid: {', '.join(STEPS)}")
        return 2
    plan = make_plan(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout outside ends this run
    clock = Clock(a.budget if a.budget is not None else (1200 if a.tiny else 560))
    print(f"gpu run: steps {','.join(chosen)} on {plan.device}, budget {clock.budget:.0f} s, "
          f"out {plan.out}, work {plan.work}, data {plan.data or 'wsbench default'}", flush=True)
    failed = False
    for name in (s for s in STEPS if s in chosen):
        started = clock.elapsed()
        print(f"== {name} (at {started:.0f} s, {clock.left():.0f} s left)", flush=True)
        try:
            status, note = STEPS[name](plan, clock)
        except Exception as exc:  # noqa: BLE001 - one step's bug must not lose the others
            status, note = "failed", f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        except SystemExit:  # SIGTERM: say what was cut, then go
            plan.statuses[name] = {"status": "killed", "seconds": round(clock.elapsed() - started, 1),
                                   "note": "the run was stopped from outside"}
            publish(plan, clock)
            raise
        seconds = round(clock.elapsed() - started, 1)
        plan.statuses[name] = {"status": status, "seconds": seconds, "note": note}
        failed |= status not in ("ok",) and not status.startswith("stopped")
        print(f"== {name}: {status} in {seconds} s: {note}", flush=True)
        if status != "ok":
            print(tail(_log_of(plan, name)), flush=True)
        publish(plan, clock)
    print(f"gpu run: done in {clock.elapsed():.0f} s; results in {plan.out}", flush=True)
    return 1 if failed else 0


def _log_of(plan: Plan, step: str) -> Path:
    return {"install": plan.results / "install.log",
            "bench": plan.results / "bench" / "bench-device.txt",
            "train": plan.results / "train" / "train-console.log"}.get(
                step, plan.results / "protocol" / "paper-cifar10-resnet20.log")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
