"""``wsbench train --task T``: train a task's model here, through the task's own ``train()``.

The command knows no task: it passes the flags the user gave to the task's ``train(out, *,
progress, **options)`` (CIFAR trains on CPU or CUDA, digits in seconds), so that a task plugin
brings its training with it and a task without one is refused in one line.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any, Callable

from wsbench import validate
from wsbench.validate import arg

# the flags that become train() options (argparse dest = option name); unset ones are not passed,
# so each task keeps its own defaults and a task is only refused options the user asked for
OPTIONS = ("epochs", "batch_size", "lr", "seed", "data", "threads", "init", "swa_epochs", "swa_lr",
           "resume", "device", "train_limit", "eval_limit")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``train`` subcommand and its flags (the CIFAR-only ones say so in their help)."""
    p = sub.add_parser(
        "train", help="train a task's model (writes .pt, .sha256, .json; CIFAR also a .log)",
        description="Train the model of a task. CIFAR: on the paper's training split (the 10% "
                    "validation split and the test set are never trained on), with a progress "
                    "bar and a per-epoch log; tasks then load the checkpoint from --out. Digits: "
                    "the shipped default model, reproduced (one thread, deterministic), and "
                    "compared with the shipped file. A flag the task does not take is refused.")
    p.add_argument("--task", default="cifar10-resnet20", help="the task (default: cifar10-resnet20)")
    p.add_argument("--epochs", type=arg(validate.epochs, "--epochs", int), default=None,
                   help="epochs (default: the task's own, 60 for CIFAR, 30 for digits)")
    p.add_argument("--batch-size", type=arg(validate.population, "--batch-size", int), default=None,
                   help="CIFAR: batch size (default: 128)")
    p.add_argument("--lr", type=arg(validate.positive, "--lr"), default=None,
                   help="CIFAR: peak learning rate (default: 0.1)")
    p.add_argument("--seed", type=arg(validate.seed, "--seed", int), default=None,
                   help="seed (default: 0)")
    p.add_argument("--data", type=Path, default=None,
                   help="CIFAR source: torchvision folder, ImageFolder folder or .tar.xz "
                        "(default: $WSBENCH_CIFAR10 or ../shared/data/cifar10-jpeg.tar.xz)")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write the checkpoint (default: the user cache, where tasks look)")
    _add_cifar_flags(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _add_cifar_flags(p: argparse.ArgumentParser) -> None:
    """Threads, init/SWA, resume, device and rehearsal limits: options of the CIFAR task's train()."""
    p.add_argument("--threads", type=arg(validate.threads, "--threads", int), default=None, metavar="N",
                   help="a fixed number of torch threads (default: every core, dropping to one "
                        "while another process competes for them)")
    p.add_argument("--init", type=Path, default=None, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights instead of a random init "
                        "(e.g. to refine the packaged one with --swa-epochs; --epochs may be 0)")
    p.add_argument("--swa-epochs", type=arg(validate.epochs, "--swa-epochs", int), default=None, metavar="N",
                   help="after the schedule, N epochs of stochastic weight averaging: one-epoch "
                        "cycles of the rate from --swa-lr to --swa-lr/100, cycle ends averaged "
                        "(default: 0, none)")
    p.add_argument("--swa-lr", type=arg(validate.positive, "--swa-lr"), default=None,
                   help="SWA cycle start rate (default: 0.05)")
    p.add_argument("--resume", action="store_true", default=None,
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


def run(args: argparse.Namespace) -> int:
    """Train through the task's ``train()``; print its summary (or where it wrote what)."""
    from wsbench import plugins
    from wsbench.errors import ConfigError
    from wsbench.files.cache import cache_dir

    from wsbench.commands.outputs import output_folder

    task = plugins.create("task", args.task)
    train = getattr(task, "train", None)
    if not callable(train):
        raise ConfigError(f"task {args.task!r} cannot be trained with `wsbench train`: "
                          f"it has no train()")
    options = {k: getattr(args, k) for k in OPTIONS if getattr(args, k, None) is not None}
    refuse_unknown_options(train, options, args.task)
    out = args.out or cache_dir("checkpoints")
    output_folder(Path(out), "--out")  # before the training, not after it
    facts = train(out, progress=not args.no_progress, **options)
    print(facts.get("summary") or
          f"{task.name}: wrote {facts['path']} (sha256 {facts['sha256'][:16]})")
    return 0


def refuse_unknown_options(train: Callable[..., Any], options: dict[str, Any], task: str) -> None:
    """One ConfigError naming every option (as its flag) that ``train`` does not take.

    Checked against the signature, before any work, rather than by catching a TypeError, which
    an error deep inside training would also raise."""
    from wsbench.errors import ConfigError

    params = inspect.signature(train).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    taken = {p.name for p in params if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                  inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    unknown = [f"--{k.replace('_', '-')}" for k in options if k not in taken]
    if unknown:
        none = "no such option" if len(unknown) == 1 else "none of them"
        raise ConfigError(f"task {task!r} does not take {', '.join(unknown)}: its train() has {none}")
