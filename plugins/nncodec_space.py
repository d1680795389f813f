"""The MPEG NNC standard as a search space: the decision is NNCodec's quantization parameter.

A space that is a whole codec: ``quantize`` codes the shared weights with NNCodec (uniform and
dependent quantization, DeepCABAC) and returns the decoded weights as a :class:`Quantization`
whose ``native`` is the NNC bitstream itself, so the harness scores exactly what a decoder gives,
the ``bits`` size objective counts NNCodec's real size, and a ``native`` file stores the
bitstream (``wsbench.load_state_dict`` decodes it through :meth:`NNCodecSpace.decode`). The
quantizer of the trial is not used: NNCodec quantizes. No calibration data, as the standard's
core path. Needs the optional extra: ``pip install -e '.[nncodec]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from wsbench import NativeCode, Quantization, hookimpl
from wsbench.errors import ConfigError, FormatError

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import Quantizer
    from wsbench.codec.weights import WeightView

QP_LIMITS = (-100, 40)  # beyond these the step is below float32 resolution or above any weight


class NNCodecSpace:
    """One integer qp in [qp_min, qp_max] (step = 2 ** (qp / 4) at multiples of 4), or with
    ``per_tensor`` one qp per shared tensor: the search then spends bits where the validation
    metric needs them, which the standard's one qp cannot."""

    name = "nncodec"

    def __init__(self, qp_min: int = -38, qp_max: int = -14, use_dq: bool = True,
                 per_tensor: bool = False) -> None:
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (qp_min, qp_max))
        if not (ints and QP_LIMITS[0] <= qp_min <= qp_max <= QP_LIMITS[1]):
            raise ConfigError(f"qp bounds must be integers with {QP_LIMITS[0]} <= qp_min <= qp_max "
                              f"<= {QP_LIMITS[1]}, got [{qp_min!r}, {qp_max!r}]")
        self.xl, self.xu = np.array([float(qp_min)]), np.array([float(qp_max)])
        self.integer = np.array([True])
        self.use_dq, self.per_tensor = bool(use_dq), bool(per_tensor)
        self._view: "WeightView | None" = None
        self._d: dict[int, int] = {}  # qp -> distinct decoded values, for k_of

    def unavailable(self) -> str | None:
        """Why this space cannot run here (the optional extra is missing), or None."""
        from wsbench_plugins import nncodec_adapter

        return None if nncodec_adapter.available() else (
            f"the nncodec space needs the nncodec package; {nncodec_adapter.INSTALL_HINT}")

    def bind(self, view: "WeightView") -> None:
        self._view, self._d = view, {}
        if self.per_tensor:
            n = len(view.names)
            self.xl, self.xu = np.full(n, self.xl[0]), np.full(n, self.xu[0])
            self.integer = np.ones(n, dtype=bool)

    def quantize(self, view: "WeightView", quantizer: "Quantizer", x: np.ndarray) -> Quantization:
        import torch

        from wsbench_plugins import nncodec_adapter

        qps = [int(round(float(v))) for v in np.atleast_1d(x)]
        arrays = {n: t.detach().cpu().numpy() for n, t in view.split(view.original).items()}
        per = dict(zip(arrays, qps)) if self.per_tensor else None
        payload = nncodec_adapter.encode(arrays, qps[0], weights=list(arrays), use_dq=self.use_dq,
                                         qp_per_tensor=per)
        flat = _pooled(nncodec_adapter.decode(payload), view.names, [p.numel() for p in view.params])
        values, inverse = torch.unique(torch.from_numpy(flat), return_inverse=True)
        native = NativeCode(self.name, payload, {"qp": qps if self.per_tensor else qps[0],
                                                 "use_dq": self.use_dq})
        self._d[tuple(qps)] = int(values.numel())
        return Quantization(values.to(torch.float32), inverse.reshape(-1).to(torch.int64),
                            int(values.numel()), native)

    def decode(self, header: dict[str, Any], payload: bytes,
               shared: list[tuple[str, tuple[int, ...], str]]) -> "torch.Tensor":
        """The pooled shared weights of a ``native`` file's payload (``shared`` from its header)."""
        import torch

        from wsbench_plugins import nncodec_adapter

        sizes = [int(np.prod(shape)) for _, shape, _ in shared]
        flat = _pooled(nncodec_adapter.decode(payload), [n for n, _, _ in shared], sizes)
        return torch.from_numpy(flat)

    def k_of(self, x: np.ndarray) -> int:
        """K is the number of distinct decoded values (NNCodec has no K; qp is the decision)."""
        qp = tuple(int(round(float(v))) for v in np.atleast_1d(x))
        if qp not in self._d:
            if self._view is None:
                raise ConfigError("the nncodec space is not bound to a model")
            self.quantize(self._view, None, x)  # type: ignore[arg-type]
        return self._d[qp]


def _pooled(arrays: dict[str, np.ndarray], names: list[str], sizes: list[int]) -> np.ndarray:
    """The decoded tensors in pooling order, as one float32 vector (FormatError if any is off)."""
    missing = [n for n in names if n not in arrays]
    if missing:
        raise FormatError(f"the NNC bitstream lacks tensor {missing[0]!r}")
    parts = []
    for name, size in zip(names, sizes):
        a = np.asarray(arrays[name], dtype=np.float32).reshape(-1)
        if a.size != size:
            raise FormatError(f"tensor {name!r} decodes to {a.size} values, the model has {size}")
        parts.append(a)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@hookimpl
def wsbench_register_spaces(register) -> None:
    register("nncodec", NNCodecSpace,
             "MPEG NNC (NNCodec, DeepCABAC) as a codec: one integer qp (per_tensor=true: one per "
             "shared tensor); the quantizer is unused; needs the nncodec extra.")
