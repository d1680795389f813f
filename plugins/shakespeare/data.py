"""Tiny Shakespeare at the character level: the corpus, its contiguous splits and its windows.

Splits are contiguous: the first 90% of the characters train, the next 5% validate, the last
5% test (so no window of one split overlaps another's text). Validation and test are cut into
fixed, non-overlapping windows of ``context`` characters; each window's targets are the same
characters shifted by one, so every character of a split (but the first of each window) is
predicted once, from the characters before it in its window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from wsbench.errors import ConfigError

FILE = Path("tinyshakespeare") / "input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SPLITS = (0.90, 0.05, 0.05)


def default_corpus() -> Path:
    """``$WSBENCH_SHAKESPEARE``, else ``shared/data/tinyshakespeare/input.txt`` beside a checkout."""
    import os

    from wsbench.files.locate import shared_data

    if os.environ.get("WSBENCH_SHAKESPEARE"):
        return Path(os.environ["WSBENCH_SHAKESPEARE"]).expanduser()
    found = shared_data(FILE)
    if found is None:
        raise ConfigError(f"Tiny Shakespeare not found: put the char-rnn corpus at shared/data/{FILE} "
                          f"beside a wsbench checkout, set $WSBENCH_SHAKESPEARE or pass "
                          f"--set task.data=PATH")
    return found


@dataclass(frozen=True)
class Corpus:
    text: str
    vocab: str     # sorted distinct characters: index = token id
    sha256: str

    @property
    def ids(self) -> "np.ndarray":  # noqa: F821
        import numpy as np

        table = {c: i for i, c in enumerate(self.vocab)}
        return np.fromiter((table[c] for c in self.text), dtype=np.int64, count=len(self.text))


def read_corpus(path: str | Path | None = None) -> Corpus:
    """The corpus as text (UTF-8), its vocabulary and digest; a file too short to split, or not
    text, is one error line."""
    path = Path(path).expanduser() if path else default_corpus()
    try:
        blob = path.read_bytes()
        text = blob.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the corpus {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    if len(text) < 60:
        raise ConfigError(f"{path}: {len(text)} characters is too short to split 90/5/5")
    return Corpus(text, "".join(sorted(set(text))), hashlib.sha256(blob).hexdigest())


def split_ids(ids: "np.ndarray") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:  # noqa: F821
    """Contiguous 90 / 5 / 5 train / validation / test."""
    a = int(len(ids) * SPLITS[0])
    b = int(len(ids) * (SPLITS[0] + SPLITS[1]))
    return ids[:a], ids[a:b], ids[b:]


def windows(ids: "np.ndarray", context: int) -> tuple["torch.Tensor", "torch.Tensor"]:  # noqa: F821
    """Non-overlapping windows: inputs ``[N, context]`` and targets shifted by one."""
    import torch

    n = (len(ids) - 1) // context
    if n < 1:
        raise ConfigError(f"a split of {len(ids)} characters holds no window of {context}")
    x = torch.as_tensor(ids[:n * context]).view(n, context)
    y = torch.as_tensor(ids[1:n * context + 1]).view(n, context)
    return x.contiguous(), y.contiguous()
