"""The default tasks: scikit-learn's 8x8 digits with a small CNN or MLP, trained in seconds.

The trained weights are cached under the user cache, keyed by a hash of everything that
determines them (data, split, architecture, recipe, seed), so a second run loads them.
"""

from __future__ import annotations

from wsbench.hookspecs import hookimpl
from wsbench.task import TaskData

RECIPE_VERSION = 1


def build_digits_model(arch: str):
    import torch.nn as nn

    if arch == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
        )
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(),
                             nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    raise ValueError(f"unknown digits architecture {arch!r}")


def digits_splits(seed: int):
    """Stratified, seeded 60/20/20 train/validation/test split of the 1,797 digits."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images.astype(np.float32) / 16.0)[:, None]
    y = data.target.astype(np.int64)
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, test_size=0.4, stratify=y, random_state=seed)
    val, test = train_test_split(rest, test_size=0.5, stratify=y[rest], random_state=seed)
    t = lambda i: (torch.from_numpy(x[i]), torch.from_numpy(y[i]))  # noqa: E731
    return t(train), t(val), t(test)


class DigitsTask:
    """Digits classification with a model trained here on first use."""

    def __init__(self, arch: str = "cnn", seed: int = 0, epochs: int = 30) -> None:
        self.arch = arch
        self.seed = int(seed)
        self.epochs = int(epochs)
        self.name = f"digits-{arch}"
        self.description = f"sklearn digits, small {arch.upper()}"

    def _train(self, model, train) -> None:
        import torch

        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        x, y = train
        model.train()
        for _ in range(self.epochs):
            perm = torch.randperm(len(y), generator=gen)
            for i in range(0, len(y), 64):
                b = perm[i:i + 64]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
                opt.step()
        model.eval()

    def load(self, *, progress: bool = True) -> TaskData:
        import torch

        from wsbench.cache import atomic_write_bytes, cache_dir, content_key

        train, val, test = digits_splits(self.seed)
        key = content_key(task=self.name, seed=self.seed, epochs=self.epochs,
                          recipe=RECIPE_VERSION, torch=torch.__version__.split("+")[0])
        path = cache_dir("models") / f"{self.name}-{key}.pt"
        torch.manual_seed(self.seed)
        model = build_digits_model(self.arch)
        try:
            model.load_state_dict(torch.load(path, weights_only=True))
        except Exception:  # absent or corrupted cache entry: train again (deterministic)
            torch.manual_seed(self.seed)
            model = build_digits_model(self.arch)
            self._train(model, train)
            import io

            buf = io.BytesIO()
            torch.save(model.state_dict(), buf)
            atomic_write_bytes(path, buf.getvalue())
        model.eval()
        return TaskData(model, val[0], val[1], test[0], test[1], num_classes=10)


@hookimpl
def wsbench_register_tasks(register) -> None:
    register("digits-cnn", lambda **kw: DigitsTask("cnn", **kw),
             "sklearn digits (8x8), 38k-parameter CNN trained here in seconds (default task).")
    register("digits-mlp", lambda **kw: DigitsTask("mlp", **kw),
             "sklearn digits (8x8), 17k-parameter MLP trained here in seconds.")
