"""The common fitness harness: decision -> quantized weights -> validation metric and d, built
to cost little more than the forward pass itself:

* validation and test tensors live on the model's device, forwards run under ``inference_mode``
  in large batches, and the model is never copied;
* the shared parameters are re-pointed once into one flat buffer, so writing a candidate is a
  single ``index_select`` from the codebook straight into the parameters (no reallocation);
* optional *screening*: ``fidelity < 1`` scores candidates on a seeded, class-stratified subset
  of validation, ``screen_dtype="bfloat16"`` under bf16 autocast; :meth:`FitnessHarness.rescore`
  gives the full-split fp32 objectives the reported results must use;
* ``population_eval="batched"`` scores a whole population in one vmapped forward
  (``torch.func.functional_call`` over stacked weights, wsbench/search/population.py); the default
  picks the loop on CPU, where it was measured faster, and the batched pass on CUDA.

Code outside the harness uses its API, never its insides: :meth:`FitnessHarness.reset` before
each search, ``space_size``, :meth:`FitnessHarness.bind_space` and ``merge_scorers``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

from wsbench.codec.weights import Include, WeightView, flat_parameters
from wsbench.errors import ConfigError
from wsbench.search.choices import POPULATION_EVALS, SCREEN_DTYPES, resolve_device
from wsbench.search.drop_se import DropErrors
from wsbench.search.estimate import Estimates
from wsbench.search.metrics import get_metric
from wsbench.search.population import PopulationForward
from wsbench.search.problem import CachedProblem
from wsbench.search.size import SizeObjective
from wsbench.search.splits import stratified_subset

if TYPE_CHECKING:
    import torch

    from wsbench.codec.merge import Scorer
    from wsbench.codec.quantization import Quantization, Quantizer
    from wsbench.search.space import Space
    from wsbench.tasks.task import TaskData


class FitnessHarness(CachedProblem):
    """Objectives f1 = 1 - metric on validation, f2 = d or coded bits (:mod:`wsbench.search.size`).

    Screening options (``fidelity``, ``screen_dtype``) change only the objectives the optimizer
    sees; ``score_*`` and :meth:`rescore` always use the full split in fp32.
    """

    def __init__(self, data: "TaskData", quantizer: "Quantizer", space: "Space", *,
                 metric: str = "f1", include: Include = "conv-linear", device: str | None = None,
                 batch_size: int = 2048, cache: dict | None = None, cache_prefix: tuple = (),
                 fidelity: float = 1.0, fidelity_seed: int = 0, screen_dtype: str = "float32",
                 population_eval: str = "auto", population_batch: int = 32,
                 batched_images: int = 16384, size: str = "d", size_coding: str = "huffman-layer") -> None:
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
        self.size = SizeObjective(self.view, size, size_coding)
        self.metric_name = metric
        self._metric = get_metric(metric)
        self.num_classes = data.num_classes
        self.batch_size = int(batch_size)
        self.splits = {"val": (data.val_x.to(self.device), data.val_y.to(self.device)),
                       "test": (data.test_x.to(self.device), data.test_y.to(self.device))}
        self.calib_x = (data.val_x if data.calib_x is None else data.calib_x).to(self.device)
        self.bind_space(space)
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
        cache_prefix = cache_prefix + self.size.cache_tag
        self.batched = (population_eval == "batched"
                        or (population_eval == "auto" and self.device.type == "cuda"))
        self.population_batch = int(population_batch)
        self._flat = flat_parameters(self.view.params)
        self._ptrs = [p.data_ptr() for p in self.view.params]
        self._population = PopulationForward(self.model, self.view, self.device, batched_images)
        self._scores: dict[tuple[str, str], float] = {}
        self.last_predictions: tuple[tuple[str, str] | None, "torch.Tensor | None"] = (None, None)
        self.estimates = Estimates(self)
        self.drop_errors = DropErrors(self)  # q -> SE of its validation drop (records keep it)
        super().__init__(space.xl, space.xu, space.integer, cache, cache_prefix)

    def bind_space(self, space: "Space") -> None:
        """Bind ``space`` here and hand it the calibration inputs (training ones, never test),
        calibrated on the trained model whatever the last score left in it."""
        self.view.restore()
        space.bind(self.view)
        getattr(space, "calibrate", lambda x: None)(self.calib_x)

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
        if (buf := self._flat_buffer()) is None:
            return self.view.write(flat)
        with torch.no_grad():
            buf.copy_(flat.reshape(-1))

    def write_quantization(self, q: "Quantization") -> None:
        """Dequantize straight into the parameters: codebook[indices], no temporary vector; a
        codec that codes the biases and norms too has its decoded ones written as well."""
        import torch

        self._check_size(q.indices.numel())
        if (buf := self._flat_buffer()) is None:
            self.view.write(q.dequantize())
        else:
            with torch.no_grad():
                torch.index_select(q.codebook.to(buf.dtype), 0, q.indices.reshape(-1), out=buf)
        if q.native is not None and q.native.decoded_rest:
            self.view.write_rest(q.native.decoded_rest)

    # -- scoring -------------------------------------------------------------------------
    def _autocast(self, screen: bool):
        import torch

        if screen and self.screen_dtype == "bfloat16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def predict(self, split: str = "val", screen: bool = False,
                logits: bool = False) -> "torch.Tensor":
        """Predicted classes (with ``logits``: the outputs) of the model as it is now (bf16
        autocast only when screening)."""
        import torch

        x, _ = self.splits[split]
        bs = self.batch_size
        head = (lambda out: out) if logits else (lambda out: out.argmax(1))
        with torch.inference_mode(), self._autocast(screen):
            if len(x) <= bs:
                return head(self.model(x))
            return torch.cat([head(self.model(x[i:i + bs])) for i in range(0, len(x), bs)])

    def score_current(self, split: str = "val", screen: bool = False) -> float:
        """The metric of the model's weights as they are now."""
        return self._metric(self.predict(split, screen), self.splits[split][1], self.num_classes)

    def score_weights(self, flat: "torch.Tensor", split: str = "val", screen: bool = False) -> float:
        self.write_weights(flat)
        return self.score_current(split, screen)

    def merge_scorers(self, holdout: bool = False, seed: int = 0) -> tuple["Scorer", "Scorer | None"]:
        """The validation scorers of a merge strategy: the search's own screening (subset, dtype)
        when it screened, else the full split in fp32, so a merge judges candidates as the search
        did; with ``holdout``, that split halved (seeded, class-stratified) into a fitting and a
        held-out part, else (scorer, None)."""
        base, screen = self.search_split, self.screening
        if not holdout:
            return self._scorer(base, screen), None
        fit, check = self._halves(base, seed)
        return self._scorer(fit, screen), self._scorer(check, screen)

    def _scorer(self, split: str, screen: bool) -> "Scorer":
        return lambda flat: self.score_weights(flat, split, screen)

    def _halves(self, split: str, seed: int) -> tuple[str, str]:
        """Names of a seeded, class-stratified half of ``split`` and of the rest (made once)."""
        import torch

        fit_name, check_name = f"{split}-fit{seed}", f"{split}-check{seed}"
        if fit_name not in self.splits:
            x, y = self.splits[split]
            fit = stratified_subset(y, 0.5, seed).to(y.device)
            rest = torch.ones(len(y), dtype=torch.bool, device=y.device)
            rest[fit] = False
            self.splits[fit_name] = (x[fit], y[fit])
            self.splits[check_name] = (x[rest], y[rest])
        return fit_name, check_name

    def score_quantization(self, q: "Quantization", split: str = "val") -> float:
        """The full-split fp32 metric of ``q``, whose weights are left in the model.

        Remembered by content: the runner re-scores the same front members in every trial that
        shares a search (one per merge strategy) and in every seed that finds them again, and
        on CIFAR that re-scoring took most of an unmerged trial.
        """
        self.write_quantization(q)
        key = (q.digest(), split)
        if key not in self._scores:
            pred = self.predict(split)
            self.last_predictions = key, pred  # the drop's standard error needs them next
            self._scores[key] = self._metric(pred, self.splits[split][1], self.num_classes)
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
                F[i] = (1.0 - self.score_quantization(q, split), self.size(q))
        finally:
            self.view.restore()
        return F

    # -- the problem seen by optimizers --------------------------------------------------
    def reset(self) -> None:
        """Forget every evaluation (see CachedProblem) and put the trained weights back: each
        trial of a shared harness starts as if the harness were new."""
        super().reset()
        self.estimates.reset()
        self.view.restore()

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Objectives of a batch (see CachedProblem); the trained weights are put back after."""
        try:
            return super().evaluate(X)
        finally:
            self.view.restore()

    def estimate(self, X: np.ndarray, share: float = 0.1) -> np.ndarray:
        """Margin estimates (1 - metric, size, moved share) per decision, each new one charged
        ``share`` of an evaluation (:mod:`wsbench.search.estimate`); trained weights put back."""
        return self.estimates(X, share)

    def quantization(self, x: np.ndarray) -> "Quantization":
        return self.space.quantize(self.view, self.quantizer, np.asarray(x, dtype=np.float64))

    def _evaluate_one(self, x: np.ndarray) -> tuple[float, float]:
        q = self.quantization(x)
        self.write_quantization(q)
        pred = self.predict(self.search_split, True)
        self.estimates.keep(self._key(x), pred)
        y = self.splits[self.search_split][1]
        return 1.0 - self._metric(pred, y, self.num_classes), self.size(q)

    def _score_written(self, q: "Quantization", split: str, screen: bool) -> float:
        self.write_quantization(q)
        return self.score_current(split, screen)

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
        qs = [self.quantization(x) for x in X]
        x, y = self.splits[split]
        if any(q.native is not None and q.native.decoded_rest for q in qs):  # rest differs too
            return [(1.0 - self._score_written(q, split, screen), self.size(q)) for q in qs]
        pred = self._population.predict(self._population.stack(qs), x, self._autocast(screen))
        return [(1.0 - self._metric(pred[i], y, self.num_classes), self.size(q))
                for i, q in enumerate(qs)]
