"""A compressed file back as a working model, in one call::

    model = wsbench.load_model("digits-cnn", "k16.wsb")

The file holds weights, not an architecture: the task plugin builds its trained model (as a
search does) and the decoded tensors replace its weights, strictly: a file made for another
architecture is one error line, not a half-loaded model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsbench.errors import FormatError

if TYPE_CHECKING:
    import torch


def load_model(task: str, path: str | Path, **task_options: Any) -> "torch.nn.Module":
    """The model of ``task`` (a task plugin's name, with its options) in eval mode, carrying the
    weights decoded from the compressed file at ``path``. The task is loaded as a search loads
    it, so its trained checkpoint and its data must be on this machine; with the file alone,
    ``wsbench.load_state_dict`` gives the weights for a model built by hand."""
    from wsbench import plugins
    from wsbench.codec.compress import load_state_dict

    state = load_state_dict(path)  # a bad file fails before the task loads anything
    model = plugins.create("task", task, **task_options).load(progress=False).model
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or shapes:
        first = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
                 if unexpected else f"{shapes[0]} has shape {tuple(state[shapes[0]].shape)}, "
                 f"the model's {tuple(expected[shapes[0]].shape)}")
        raise FormatError(f"{path}: not a model of task {task!r} ({len(missing)} tensors missing, "
                          f"{len(unexpected)} unexpected, {len(shapes)} of another shape; "
                          f"first: {first})")
    model.load_state_dict(state)
    return model.eval()
