"""The external checkpoints' baselines: top-1 on the whole CIFAR-10 test set and on the two halves
the ``cifar10-*-idelbayev`` tasks use as validation and test.

    python benchmarks/external_baselines.py [--data PATH] [--threads N]

Prints a markdown table (RESULTS.md section 7 quotes it). With the shared CIFAR-10 (JPEG) the
figures are on JPEG re-encoded images, a distribution shift for models trained on the original
arrays; with canonical CIFAR-10 (``--data`` a torchvision folder) they are the canonical ones.
"""

from __future__ import annotations

import argparse
import time


def top1(model, x, batch: int = 500):
    """The model's predicted classes, batch by batch."""
    import torch

    with torch.inference_mode():
        preds = torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return preds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="CIFAR-10 (default: the shared JPEG archive)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    args = ap.parse_args(argv)
    import torch
    from wsbench_plugins.cifar.data import load_cifar, to_float
    from wsbench_plugins.cifar.external import IDELBAYEV, IMAGENET_MEAN, IMAGENET_STD, ExternalCifarTask

    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_cifar(args.data, "cifar10")
    x = to_float(ds["test_x"], IMAGENET_MEAN, IMAGENET_STD).contiguous()
    y = torch.as_tensor(ds["test_y"], dtype=torch.long)
    print("| task | canonical test top-1 (publisher) | test, all 10,000 | validation half (5,000) "
          "| test half (5,000) | forward s |")
    print("|---|--:|--:|--:|--:|--:|")
    for arch, entry in IDELBAYEV.items():
        task = ExternalCifarTask(arch, data=args.data)
        data = task.load(progress=False)
        t0 = time.perf_counter()
        correct = (top1(data.model, x) == y).float()
        seconds = time.perf_counter() - t0
        val = (top1(data.model, data.val_x) == data.val_y).float().mean().item()
        test = (top1(data.model, data.test_x) == data.test_y).float().mean().item()
        print(f"| {task.name} | {entry.canonical_top1:.2f} | {100 * correct.mean().item():.2f} "
              f"| {100 * val:.2f} | {100 * test:.2f} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
