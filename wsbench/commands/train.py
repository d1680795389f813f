"""``wsbench train --task T``: train a task's model here (CIFAR on CPU or CUDA; digits in seconds)."""

from __future__ import annotations

import argparse
from pathlib import Path

from wsbench import validate
from wsbench.validate import arg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a task's model (writes .pt, .sha256, .json; CIFAR also a .log)",
        description="Train the model of a task. CIFAR: on the paper's training split (the 10% "
                    "validation split and the test set are never trained on), with a progress "
                    "bar and a per-epoch log; tasks then load the checkpoint from --out. Digits: "
                    "the shipped default model, reproduced (one thread, deterministic), and "
                    "compared with the shipped file.")
    p.add_argument("--task", default="cifar10-resnet20", help="the task (default: cifar10-resnet20)")
    p.add_argument("--epochs", type=arg(validate.epochs, "--epochs", int), default=None,
                   help="epochs (default: the task's own, 60 for CIFAR, 30 for digits)")
    p.add_argument("--batch-size", type=arg(validate.population, "--batch-size", int), default=128,
                   help="batch size (default: 128)")
    p.add_argument("--lr", type=arg(validate.positive, "--lr"), default=0.1,
                   help="peak learning rate (default: 0.1)")
    p.add_argument("--seed", type=arg(validate.seed, "--seed", int), default=0, help="seed (default: 0)")
    p.add_argument("--data", type=Path, default=None,
                   help="CIFAR source: torchvision folder, ImageFolder folder or .tar.xz "
                        "(default: $WSBENCH_CIFAR10 or ../shared/data/cifar10-jpeg.tar.xz)")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write the checkpoint (default: the user cache, where tasks look)")
    p.add_argument("--threads", type=arg(validate.threads, "--threads", int), default=None, metavar="N",
                   help="a fixed number of torch threads (default: every core, dropping to one "
                        "while another process competes for them)")
    p.add_argument("--init", type=Path, default=None, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights instead of a random init "
                        "(e.g. to refine the packaged one with --swa-epochs; --epochs may be 0)")
    p.add_argument("--swa-epochs", type=arg(validate.epochs, "--swa-epochs", int), default=0, metavar="N",
                   help="after the schedule, N epochs of stochastic weight averaging: one-epoch "
                        "cycles of the rate from --swa-lr to --swa-lr/100, cycle ends averaged "
                        "(default: 0, none)")
    p.add_argument("--swa-lr", type=arg(validate.positive, "--swa-lr"), default=0.05, help="SWA cycle start rate (default: 0.05)")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished run saved in --out after its last finished "
                        "epoch (same settings required; with a fixed --threads on the same machine, "
                        "the same weights as an uninterrupted run); without one, start afresh")
    p.add_argument("--device", type=arg(validate.device, "--device", str), default=None,
                   help="CIFAR: cpu (default) or cuda[:N]; on a GPU the training images stay on "
                        "the device and are cropped and flipped there")
    p.add_argument("--train-limit", type=arg(validate.population, "--train-limit", int),
                   default=None, metavar="N",
                   help="CIFAR: train on a class-balanced subset of N training images (a "
                        "rehearsal; default: all 45,000)")
    p.add_argument("--eval-limit", type=arg(validate.population, "--eval-limit", int),
                   default=None, metavar="N",
                   help="CIFAR: measure accuracy on class-balanced subsets of N validation and N "
                        "test images (a rehearsal; default: all 5,000 and 10,000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wsbench import plugins
    from wsbench.cache import cache_dir
    from wsbench.errors import ConfigError

    task = plugins.create("task", args.task)
    if callable(getattr(task, "train", None)):
        return _train_own(args, task)
    if not hasattr(task, "arch") or not hasattr(task, "dataset"):
        raise ConfigError(f"task {args.task!r} cannot be trained with `wsbench train` "
                          f"(it has no train() and is not a CIFAR task)")
    args.epochs = 60 if args.epochs is None else args.epochs
    if args.epochs == 0 and not (args.init and args.swa_epochs):  # the rest: validate, at parsing
        raise ConfigError("--epochs must be at least 1 (0 only with --init and --swa-epochs)")
    from wsbench_plugins.cifar.train import train_cifar_model

    device = None if args.device in (None, "auto") else args.device
    validate.device_available(device, "--device")
    on_gpu = device is not None and device != "cpu"
    out = args.out or cache_dir("checkpoints")
    facts = train_cifar_model(out, dataset=task.dataset, arch=task.arch, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                              data=args.data, progress=not args.no_progress, threads=args.threads,
                              adaptive_threads=args.threads is None and not on_gpu,
                              init=args.init, swa_epochs=args.swa_epochs, swa_lr=args.swa_lr,
                              resume=args.resume, device=device, train_limit=args.train_limit,
                              eval_limit=args.eval_limit)
    print(f"{task.name}: val accuracy {facts['val_acc_fp32']:.4f}, test accuracy "
          f"{facts['test_acc_fp32']:.4f}, {facts['wall_seconds']:.0f} s; wrote {out}/{task.name}.pt")
    return 0


def _train_own(args: argparse.Namespace, task) -> int:
    """A task that trains itself (the task contract's optional ``train(out, progress=)``)."""
    from wsbench import plugins
    from wsbench.cache import cache_dir
    from wsbench.errors import ConfigError

    options = {"seed": args.seed, **({"epochs": args.epochs} if args.epochs is not None else {})}
    try:
        task = plugins.create("task", args.task, **options)
    except TypeError as exc:
        raise ConfigError(f"task {args.task!r} does not take {', '.join(options)}: {exc}") from None
    out = args.out or cache_dir("checkpoints")
    facts = task.train(out, progress=not args.no_progress)
    line = f"{task.name}: wrote {facts['path']} (sha256 {facts['sha256'][:16]})"
    shipped = getattr(task, "shipped", None)
    if shipped is not None and shipped.with_suffix(".sha256").exists():
        same = shipped.with_suffix(".sha256").read_text().split()[0] == facts["sha256"]
        line += ("; identical to the shipped checkpoint" if same else
                 f"; differs from the shipped {shipped.name} (another CPU's kernels round "
                 f"differently: every task run loads the shipped file)")
    print(line)
    return 0
