"""Built-in search spaces: the paper's K, K with a clipping range, and one K per layer.

Every space returns one global :class:`Quantization` (one codebook, one index per pooled
weight) whose shared values are the means of their member weights, so saving, Huffman coding
and merging work the same for all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import numpy as np

from wsbench import Quantization, compact, hookimpl
from wsbench.errors import ConfigError
from wsbench.options import Range

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import Quantizer
    from wsbench.codec.weights import WeightView

K_LIMIT = 1 << 20
K = Annotated[int, Range(2, K_LIMIT)]  # a bound of K (k_min <= k_max is checked by the space)


def _k_bounds(k_min: int, k_max: int) -> tuple[int, int]:
    """Validated integer K bounds (a ConfigError names the problem)."""
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (k_min, k_max))
    if not ok:
        raise ConfigError(f"K bounds must be integers, got {k_min!r}, {k_max!r}")
    if not 2 <= k_min <= k_max <= K_LIMIT:
        raise ConfigError(f"K bounds must satisfy 2 <= k_min <= k_max <= {K_LIMIT}, "
                          f"got [{k_min}, {k_max}]")
    return int(k_min), int(k_max)


class KSpace:
    """The paper's space: one integer K in [k_min, k_max] for one global codebook."""

    name = "k"

    def __init__(self, k_min: K = 2, k_max: K = 1024) -> None:
        k_min, k_max = _k_bounds(k_min, k_max)
        self.xl = np.array([float(k_min)])
        self.xu = np.array([float(k_max)])
        self.integer = np.array([True])

    def bind(self, view: "WeightView") -> None:
        pass

    def quantize(self, view: "WeightView", quantizer: "Quantizer", x: np.ndarray) -> Quantization:
        return quantizer.quantize(view.original, int(round(x[0])))

    def k_of(self, x: np.ndarray) -> int:
        return int(round(x[0]))


class KClipSpace:
    """The authors' earlier three-variable space: K plus a lower and an upper clipping quantile.

    x = (K, q_lo, q_hi) with q_lo in [0, q_lo_max] and q_hi in [q_hi_min, 1]. The quantizer sees
    the weights clamped to [quantile(q_lo), quantile(q_hi)], so outliers fall into the edge bins
    and the bins inside are finer; each shared value is then the mean of its members' original
    (unclamped) weights. Quantiles are nearest-rank on the weights sorted once per view.
    """

    name = "k-clip"

    def __init__(self, k_min: K = 2, k_max: K = 1024,
                 q_lo_max: Annotated[float, Range(0.0, 0.5, hi_open=True)] = 0.05,
                 q_hi_min: Annotated[float, Range(0.5, 1.0, lo_open=True)] = 0.95) -> None:
        k_min, k_max = _k_bounds(k_min, k_max)
        if not (0.0 <= q_lo_max < 0.5 < q_hi_min <= 1.0):
            raise ConfigError(f"clipping bounds must satisfy 0 <= q_lo_max < 0.5 < q_hi_min <= 1, "
                              f"got q_lo_max={q_lo_max!r}, q_hi_min={q_hi_min!r}")
        self.xl = np.array([float(k_min), 0.0, float(q_hi_min)])
        self.xu = np.array([float(k_max), float(q_lo_max), 1.0])
        self.integer = np.array([True, False, False])
        self._sorted: tuple["torch.Tensor", "torch.Tensor"] | None = None

    def bind(self, view: "WeightView") -> None:
        self._sorted_weights(view)

    def _sorted_weights(self, view: "WeightView") -> "torch.Tensor":
        import torch

        if self._sorted is None or self._sorted[0] is not view.original:
            self._sorted = (view.original, torch.sort(view.original.reshape(-1)).values)
        return self._sorted[1]

    def clip_range(self, view: "WeightView", x: np.ndarray) -> tuple[float, float]:
        """The clamping interval of a decision: nearest-rank quantiles of the pooled weights."""
        s = self._sorted_weights(view)
        last = s.numel() - 1
        q_lo = float(np.clip(x[1], 0.0, 1.0))
        q_hi = float(np.clip(x[2], q_lo, 1.0))
        return float(s[int(round(q_lo * last))]), float(s[int(round(q_hi * last))])

    def quantize(self, view: "WeightView", quantizer: "Quantizer", x: np.ndarray) -> Quantization:
        k = int(round(x[0]))
        lo, hi = self.clip_range(view, x)
        w = view.original.reshape(-1)
        q = quantizer.quantize(w.clamp(lo, hi), k)
        return compact(q.indices, w, q.d, k)

    def k_of(self, x: np.ndarray) -> int:
        return int(round(x[0]))


class LayerwiseKSpace:
    """One K per shared layer, each layer quantized on its own (one codebook per layer).

    Expressed as one global Quantization: the codebook is the concatenation of the per-layer
    codebooks and each layer's indices are offset by the sizes of the codebooks before it.
    The dimension is fixed by ``bind`` (one variable per entry of ``view.layer_sizes``);
    ``k_of`` reports the total K, so d <= k_of(x) as for the other spaces.
    """

    name = "layerwise-k"

    def __init__(self, k_min: K = 2, k_max: K = 256) -> None:
        self.k_min, self.k_max = _k_bounds(k_min, k_max)
        self.xl = np.zeros(0)
        self.xu = np.zeros(0)
        self.integer = np.zeros(0, dtype=bool)

    def bind(self, view: "WeightView") -> None:
        n = len(view.layer_sizes)
        self.xl = np.full(n, float(self.k_min))
        self.xu = np.full(n, float(self.k_max))
        self.integer = np.ones(n, dtype=bool)

    def quantize(self, view: "WeightView", quantizer: "Quantizer", x: np.ndarray) -> Quantization:
        import torch

        sizes = view.layer_sizes
        if len(x) != len(sizes):
            raise ConfigError(f"layerwise-k needs one K per layer: {len(sizes)} layers, "
                              f"got a decision of length {len(x)} (was the space bound to this model?)")
        w = view.original.reshape(-1)
        codebooks, indices = [], []
        start = offset = 0
        for n, k in zip(sizes, x):
            q = quantizer.quantize(w[start:start + n], int(round(k)))
            codebooks.append(q.codebook)
            indices.append(q.indices + offset)
            start, offset = start + n, offset + q.d
        return Quantization(codebook=torch.cat(codebooks), indices=torch.cat(indices), k=self.k_of(x))

    def k_of(self, x: np.ndarray) -> int:
        return int(np.rint(np.asarray(x, dtype=np.float64)).sum())


@hookimpl
def wsbench_register_spaces(register) -> None:
    register("k", KSpace, "The paper's single integer K in [2, 1024]: one global codebook.")
    register("k-clip", KClipSpace,
             "K in [2, 1024] plus clipping quantiles q_lo in [0, 0.05], q_hi in [0.95, 1]: "
             "outliers go to the edge bins (the authors' earlier 3-variable space).")
    register("layerwise-k", LayerwiseKSpace,
             "One K in [2, 256] per layer, one codebook per layer, saved as one global codebook.")
