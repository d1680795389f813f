"""What a task plugin provides: a trained model and disjoint validation/test tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@dataclass
class TaskData:
    """A trained model in eval mode with its validation and test splits as tensors.

    The search only ever sees ``val``; ``test`` is for re-scoring the final front.
    Inputs are tensors ready for ``model(x)`` (float images, int64 token ids); labels are int64
    class ids, one per row, or ``[N, T]`` for a sequence task whose model returns ``[N, C, T]``
    logits (classes on dimension 1): every position is then a prediction.
    """

    model: "torch.nn.Module"
    val_x: "torch.Tensor"
    val_y: "torch.Tensor"
    test_x: "torch.Tensor"
    test_y: "torch.Tensor"
    num_classes: int
    #: inputs from the training split, never scored: what a method that calibrates (e.g. bias
    #: correction) fits on, so that validation stays an unbiased judge; None where a task has none
    calib_x: "torch.Tensor | None" = None


@runtime_checkable
class Task(Protocol):
    """A task plugin: ``load`` returns the trained model and data.

    A task's own seed (split, training) is a factory option, so that optimizer seeds repeat
    a search on the same trained model. Optionally a task has ``train(out, *, progress,
    **options)``, which writes its checkpoint (``.pt``, ``.sha256``, ``.json``) into ``out`` and
    returns its facts (``path``, ``sha256``, optionally a one-line ``summary``): ``wsbench train
    --task NAME`` calls it, so training lives with the task, and passes the flags the user gave
    as keyword options (``epochs``, ``seed``, ``lr``, ...); a flag that ``train`` does not name
    as a parameter is refused before any work, so a task declares only the options it takes.
    """

    name: str
    description: str

    def load(self, *, progress: bool = True) -> TaskData: ...
