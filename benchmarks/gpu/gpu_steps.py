"""The GPU run's first steps: install wsbench, time the harness, train the ResNet-18.

Each step takes the plan and the clock and returns (status, note); the driver records both in
$OUT/status.json. Logs and figures go under the plan's results folder.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import shutil
from pathlib import Path

from gpu_common import ROOT, Clock, Plan, call

# module -> distribution: what wsbench imports on the paths this run takes
NEEDED = {"numpy": "numpy", "torch": "torch", "pymoo": "pymoo", "cma": "cma", "pluggy": "pluggy",
          "pyswarms": "pyswarms", "bitarray": "bitarray", "safetensors": "safetensors",
          "tqdm": "tqdm", "platformdirs": "platformdirs", "moocore": "moocore",
          "alive_progress": "alive-progress", "autograd": "autograd", "deprecated": "Deprecated",
          "pandas": "pandas", "matplotlib": "matplotlib", "scipy": "scipy",
          "sklearn": "scikit-learn", "PIL": "pillow"}
ARCH, TASK = "resnet18", "cifar10-resnet18"

FACTS = """import json, platform, torch, importlib.metadata as md
facts = {"python": platform.python_version(), "torch": torch.__version__,
         "cuda": torch.cuda.is_available(),
         "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
         "versions": {}}
for d in %r:
    try: facts["versions"][d] = md.version(d)
    except md.PackageNotFoundError: facts["versions"][d] = None
print(json.dumps(facts, indent=2))
"""

PARTS = """import hashlib, shutil, sys
from pathlib import Path
from wsbench.tasks.checkpoint import read_checkpoint, write_parts
pt, out, size = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
parts = write_parts(pt, size, out)
shutil.copyfile(pt.with_suffix(".sha256"), out / pt.with_suffix(".sha256").name)
state = read_checkpoint(out / pt.name)  # from the parts alone, checked against the sha256
print(f"{len(parts)} parts of <= {size} bytes; read back: {len(state)} tensors")
"""


def _missing() -> list[str]:
    return sorted({dist for mod, dist in NEEDED.items() if importlib.util.find_spec(mod) is None})


def _installed(dist: str) -> bool:
    try:
        md.version(dist)
        return True
    except md.PackageNotFoundError:
        return False


def _ours(module: str) -> bool:
    """Whether ``module`` is importable from this checkout (an editable install of it)."""
    spec = importlib.util.find_spec(module)
    return bool(spec and spec.origin and Path(spec.origin).resolve().is_relative_to(ROOT))


def install(plan: Plan, clock: Clock) -> tuple[str, str]:
    """wsbench from this checkout with --no-deps; only the missing wheels from plan.wheels."""
    log = plan.results / "install.log"
    done = []
    wheels = [w for w in sorted(plan.wheels.glob("*.whl"))
              if not _installed(w.name.split("-")[0].replace("_", "-"))]
    if wheels and _missing():
        status = call([plan.python, "-m", "pip", "install", "--no-index", "--no-deps",
                       *map(str, wheels)], log, min(120, clock.left()), plan.env())
        done.append(f"{len(wheels)} wheels: {status}")
    if not (_ours("wsbench") and _ours("wsbench_plugins") and _ours("wsbench_perf")):
        status = call([plan.python, "-m", "pip", "install", "--no-index", "--no-deps",
                       "--no-build-isolation", "-e", str(ROOT)], log, min(180, clock.left()),
                      plan.env())
        done.append(f"wsbench: {status}")
    facts = plan.results / "install.json"
    check = call([plan.python, "-c", FACTS % (sorted(set(NEEDED.values()) | {"wsbench"}),)],
                 facts, min(120, clock.left()), plan.env())
    missing = _still_missing(plan)
    note = "; ".join(done or ["everything was installed already"])
    if missing:
        return "failed", f"{note}; still missing: {', '.join(missing)}"
    return ("ok" if check == "ok" else f"facts {check}"), note


def _still_missing(plan: Plan) -> list[str]:
    """Packages the children cannot import (this process's view predates the install)."""
    import subprocess

    code = (f"import importlib.util as u; print(' '.join(m for m in {sorted(NEEDED)!r} + "
            f"['wsbench', 'wsbench_plugins', 'wsbench_perf'] if u.find_spec(m) is None))")
    out = subprocess.run([plan.python, "-c", code], capture_output=True, text=True, env=plan.env())
    return out.stdout.split()


def bench(plan: Plan, clock: Clock) -> tuple[str, str]:
    """`wsbench bench --section device` on the plan's device (population 100 unless tiny)."""
    folder = plan.results / "bench"
    args = ["bench", "--section", "device", "--device", plan.device,
            "--json", str(folder / "bench-device.json"), *(["--quick"] if plan.tiny else [])]
    status = call(plan.wsbench(*args), folder / "bench-device.txt", min(180, clock.left()),
                  plan.env())
    return status, "bench/bench-device.txt and .json"


def train(plan: Plan, clock: Clock) -> tuple[str, str]:
    """`wsbench train --task cifar10-resnet18` on the device; the checkpoint as parts in $OUT."""
    ckpt, folder = plan.work / "checkpoints", plan.results / "train"
    limits = ["--train-limit", "1000", "--eval-limit", "100"] if plan.tiny else []
    args = ["train", "--task", TASK, "--device", plan.device, "--epochs", str(plan.epochs),
            "--batch-size", str(plan.batch_size), "--lr", str(plan.lr), "--out", str(ckpt),
            "--no-progress", "--resume", *limits]
    log = folder / "train-console.log"
    status = call(plan.wsbench(*args), log, min(420, clock.left()), plan.env())
    for suffix in (".log", ".json", ".sha256"):
        if (ckpt / f"{TASK}{suffix}").exists():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ckpt / f"{TASK}{suffix}", folder / f"{TASK}{suffix}")
    if status != "ok":
        return status, "see train/train-console.log"
    split = call([plan.python, "-c", PARTS, str(ckpt / f"{TASK}.pt"), str(plan.out),
                  str(plan.part_bytes)], log, min(120, clock.left()), plan.env())
    facts = json.loads((ckpt / f"{TASK}.json").read_text())
    note = (f"test acc {facts['test_acc_fp32']:.4f}, val acc {facts['val_acc_fp32']:.4f}, "
            f"training {facts['train_seconds']:.0f} s; parts {split}")
    return ("ok" if split == "ok" else f"parts {split}"), note


def checkpoint(plan: Plan) -> Path | None:
    """The ResNet-18 this run (or an earlier call on this machine) trained, else the one
    committed as parts in plugins/checkpoints (the task joins them), else None."""
    path = plan.work / "checkpoints" / f"{TASK}.pt"
    committed = ROOT / "plugins" / "checkpoints" / f"{TASK}.pt"
    if path.exists():
        return path
    return committed if list(committed.parent.glob(f"{TASK}.pt.part*")) else None
