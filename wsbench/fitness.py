"""The common fitness harness: decision -> quantized weights -> validation metric and d.

Built to cost little more than the forward pass itself:

* validation and test tensors live on the model's device, forwards run under ``inference_mode``
  in large batches, and the model is never copied;
* the shared parameters are re-pointed once into one flat buffer, so writing a candidate is a
  single ``index_select`` from the codebook straight into the parameters (no reallocation);
* optional *screening* makes the search cheaper still: ``fidelity < 1`` scores candidates on a
  seeded, class-stratified subset of the validation split, ``screen_dtype="bfloat16"`` runs those
  forwards under bf16 autocast; :meth:`FitnessHarness.rescore` gives the full-split fp32
  objectives the reported results must use;
* ``population_eval="batched"`` scores a whole population in one vmapped forward
  (``torch.func.functional_call`` over stacked weights); the default picks the loop on CPU,
  where it was measured faster, and the batched pass on CUDA.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

from wsbench.errors import ConfigError
from wsbench.metrics import get_metric
from wsbench.problem import CachedProblem
from wsbench.settings import POPULATION_EVALS, SCREEN_DTYPES  # the choices, declared once
from wsbench.weights import Include, WeightView

if TYPE_CHECKING:
    import torch

    from wsbench.quantization import Quantization, Quantizer
    from wsbench.space import Space
    from wsbench.task import TaskData

def resolve_device(device: str | None = None) -> "torch.device":
    """``None``/``"auto"``: CUDA when there is one, else CPU."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def stratified_subset(y: "torch.Tensor", fraction: float, seed: int) -> "torch.Tensor":
    """Sorted row indices of a seeded subset holding ``fraction`` of every class (at least one)."""
    import torch

    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    labels = y.detach().cpu()
    picks = []
    for c in torch.unique(labels).tolist():
        rows = torch.nonzero(labels == c).flatten()
        take = max(1, int(round(fraction * len(rows))))
        picks.append(rows[torch.randperm(len(rows), generator=gen)[:take]])
    return torch.sort(torch.cat(picks)).values


def _flat_parameters(params: list["torch.Tensor"]) -> "torch.Tensor | None":
    """One flat buffer that ``params`` are views of (made so once, values kept), or None when
    they differ in dtype/device or are not contiguous. A buffer left by an earlier harness on
    the same model is adopted rather than replaced."""
    import torch

    first = params[0]
    if any(p.dtype != first.dtype or p.device != first.device or not p.is_contiguous()
           for p in params):
        return None
    total = sum(p.numel() for p in params)
    offset = first.storage_offset()
    base = first.untyped_storage().data_ptr()
    adopt = True
    for p in params:
        adopt = adopt and p.untyped_storage().data_ptr() == base and p.storage_offset() == offset
        offset += p.numel()
    if adopt:
        return torch.as_strided(first.detach(), (total,), (1,), first.storage_offset())
    flat = torch.empty(total, dtype=first.dtype, device=first.device)
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            flat[offset:offset + n].copy_(p.reshape(-1))
            p.data = flat[offset:offset + n].view_as(p)
            offset += n
    return flat


class FitnessHarness(CachedProblem):
    """Objectives f1 = 1 - metric on validation, f2 = d (number of shared values).

    Screening options (``fidelity``, ``screen_dtype``) change only the objectives the optimizer
    sees; ``score_*`` and :meth:`rescore` always use the full split in fp32.
    """

    def __init__(self, data: "TaskData", quantizer: "Quantizer", space: "Space", *,
                 metric: str = "f1", include: Include = "conv-linear", device: str | None = None,
                 batch_size: int = 2048, cache: dict | None = None, cache_prefix: tuple = (),
                 fidelity: float = 1.0, fidelity_seed: int = 0, screen_dtype: str = "float32",
                 population_eval: str = "auto", population_batch: int = 32,
                 batched_images: int = 16384) -> None:
        number = isinstance(fidelity, (int, float)) and not isinstance(fidelity, bool)
        if not (number and 0 < fidelity <= 1):
            raise ConfigError(f"fidelity must be a number in (0, 1], got {fidelity!r}")
        if screen_dtype not in SCREEN_DTYPES:
            raise ConfigError(f"screen dtype must be one of {', '.join(SCREEN_DTYPES)}, "
                              f"got {screen_dtype!r}")
        if population_eval not in POPULATION_EVALS:
            raise ConfigError(f"population evaluation must be one of "
                              f"{', '.join(POPULATION_EVALS)}, got {population_eval!r}")
        if batch_size < 1 or population_batch < 1 or batched_images < 1:
            raise ConfigError("batch_size, population_batch and batched_images must be >= 1")
        self.device = resolve_device(device)
        self.model = data.model.to(self.device).eval()
        self.view = WeightView.of(self.model, include)
        self.quantizer = quantizer
        self.space = space
        space.bind(self.view)
        self.metric_name = metric
        self._metric = get_metric(metric)
        self.num_classes = data.num_classes
        self.batch_size = int(batch_size)
        self.splits = {
            "val": (data.val_x.to(self.device), data.val_y.to(self.device)),
            "test": (data.test_x.to(self.device), data.test_y.to(self.device)),
        }
        self.fidelity = float(fidelity)
        self.fidelity_seed = int(fidelity_seed)
        self.screen_dtype = screen_dtype
        self.search_split = "val"
        self.subset_index: "torch.Tensor | None" = None
        if self.fidelity < 1.0:
            self.subset_index = stratified_subset(data.val_y, self.fidelity, self.fidelity_seed)
            rows = self.subset_index.to(self.device)
            self.splits["val-subset"] = (self.splits["val"][0][rows], self.splits["val"][1][rows])
            self.search_split = "val-subset"
            cache_prefix = cache_prefix + (("fidelity", self.fidelity, self.fidelity_seed),)
        if screen_dtype != "float32":
            cache_prefix = cache_prefix + (("screen", screen_dtype),)
        self.batched = (population_eval == "batched"
                        or (population_eval == "auto" and self.device.type == "cuda"))
        self.population_batch = int(population_batch)
        self.batched_images = int(batched_images)
        self._flat = _flat_parameters(self.view.params)
        self._ptrs = [p.data_ptr() for p in self.view.params]
        self._stack: "torch.Tensor | None" = None
        self._scores: dict[tuple[str, str], float] = {}
        super().__init__(space.xl, space.xu, space.integer, cache, cache_prefix)

    @property
    def screening(self) -> bool:
        """Whether the search objectives differ from the full-split fp32 ones."""
        return self.fidelity < 1.0 or self.screen_dtype != "float32"

    # -- writing weights -----------------------------------------------------------------
    def _flat_buffer(self) -> "torch.Tensor | None":
        """The flat parameter buffer, if the parameters still live in it."""
        if self._flat is None or [p.data_ptr() for p in self.view.params] != self._ptrs:
            return None
        return self._flat

    def _check_size(self, n: int) -> None:
        if n != self.view.numel:
            raise ValueError(f"vector has {n} values, the view holds {self.view.numel}")

    def write_weights(self, flat: "torch.Tensor") -> None:
        """Put a pooled vector into the model's parameters (one copy into the flat buffer)."""
        import torch

        self._check_size(flat.numel())
        buf = self._flat_buffer()
        if buf is None:
            self.view.write(flat)
        else:
            with torch.no_grad():
                buf.copy_(flat.reshape(-1))

    def write_quantization(self, q: "Quantization") -> None:
        """Dequantize straight into the parameters: codebook[indices], no temporary vector."""
        import torch

        self._check_size(q.indices.numel())
        buf = self._flat_buffer()
        if buf is None:
            self.view.write(q.dequantize())
        else:
            with torch.no_grad():
                torch.index_select(q.codebook.to(buf.dtype), 0, q.indices.reshape(-1), out=buf)

    # -- scoring -------------------------------------------------------------------------
    def _autocast(self, screen: bool):
        import torch

        if screen and self.screen_dtype == "bfloat16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def predict(self, split: str = "val", screen: bool = False) -> "torch.Tensor":
        """Predicted classes of the model as it is now (bf16 autocast only when screening)."""
        import torch

        x, _ = self.splits[split]
        bs = self.batch_size
        with torch.inference_mode(), self._autocast(screen):
            if len(x) <= bs:
                return self.model(x).argmax(1)
            return torch.cat([self.model(x[i:i + bs]).argmax(1) for i in range(0, len(x), bs)])

    def score_current(self, split: str = "val") -> float:
        """The metric of the model's weights as they are now."""
        return self._metric(self.predict(split), self.splits[split][1], self.num_classes)

    def score_weights(self, flat: "torch.Tensor", split: str = "val") -> float:
        self.write_weights(flat)
        return self.score_current(split)

    def score_quantization(self, q: "Quantization", split: str = "val") -> float:
        """The full-split fp32 metric of ``q``, whose weights are left in the model.

        Remembered by content: the runner re-scores the same front members in every trial that
        shares a search (one per merge strategy) and in every seed that finds them again, and
        on CIFAR that re-scoring took most of an unmerged trial.
        """
        self.write_quantization(q)
        key = (q.digest(), split)
        if key not in self._scores:
            self._scores[key] = self.score_current(split)
        return self._scores[key]

    def score_baseline(self, split: str = "val") -> float:
        self.view.restore()
        return self.score_current(split)

    def rescore(self, X: np.ndarray, split: str = "val") -> np.ndarray:
        """Full-split fp32 objectives of decisions (what results report, whatever the screening)."""
        X = self.repair(X)
        F = np.empty((len(X), self.n_obj))
        try:
            for i, x in enumerate(X):
                q = self.quantization(x)
                F[i] = (1.0 - self.score_quantization(q, split), float(q.d))
        finally:
            self.view.restore()
        return F

    # -- the problem seen by optimizers --------------------------------------------------
    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Objectives of a batch (see CachedProblem); the trained weights are put back after."""
        try:
            return super().evaluate(X)
        finally:
            self.view.restore()

    def quantization(self, x: np.ndarray) -> "Quantization":
        return self.space.quantize(self.view, self.quantizer, np.asarray(x, dtype=np.float64))

    def _evaluate_one(self, x: np.ndarray) -> tuple[float, float]:
        q = self.quantization(x)
        self.write_quantization(q)
        split = self.search_split
        pred = self.predict(split, screen=True)
        return 1.0 - self._metric(pred, self.splits[split][1], self.num_classes), float(q.d)

    def _evaluate_many(self, X: np.ndarray) -> list[tuple[float, float]] | None:
        if not self.batched:
            return None
        out: list[tuple[float, float]] = []
        step = max(1, min(self.population_batch, (1 << 31) // (4 * self.view.numel)))
        for start in range(0, len(X), step):
            out.extend(self.evaluate_population(X[start:start + step], self.search_split,
                                                screen=True))
        return out

    def evaluate_population(self, X: np.ndarray, split: str = "val",
                            screen: bool = False) -> list[tuple[float, float]]:
        """Objectives of several decisions in one vmapped forward over stacked weights.

        No cache and no archive: this is the batched counterpart of ``_evaluate_one``.
        """
        import torch

        qs = [self.quantization(x) for x in X]
        p, n = len(qs), self.view.numel
        if self._stack is None or self._stack.shape[0] < p:
            self._stack = torch.empty(p, n, dtype=self.view.original.dtype, device=self.device)
        stack = self._stack[:p]
        for row, q in zip(stack, qs):
            self._check_size(q.indices.numel())
            torch.index_select(q.codebook.to(stack.dtype), 0, q.indices.reshape(-1), out=row)
        pred = self._predict_population(stack, split, screen)
        y = self.splits[split][1]
        return [(1.0 - self._metric(pred[i], y, self.num_classes), float(q.d))
                for i, q in enumerate(qs)]

    def _predict_population(self, stack: "torch.Tensor", split: str,
                            screen: bool) -> "torch.Tensor":
        """Predictions (population, samples) of the model under each row of ``stack``."""
        import torch
        from torch.func import functional_call, vmap

        p = stack.shape[0]
        params, offset = {}, 0
        for name, t in zip(self.view.names, self.view.params):
            params[name] = stack[:, offset:offset + t.numel()].view(p, *t.shape).to(t.dtype)
            offset += t.numel()

        def predict_one(weights: dict, xb: "torch.Tensor") -> "torch.Tensor":
            return functional_call(self.model, weights, (xb,)).argmax(-1)

        batched = vmap(predict_one, in_dims=(0, None))
        x, _ = self.splits[split]
        b = max(1, self.batched_images // p)
        with torch.inference_mode(), self._autocast(screen):
            if len(x) <= b:
                return batched(params, x)
            return torch.cat([batched(params, x[i:i + b]) for i in range(0, len(x), b)], dim=1)
