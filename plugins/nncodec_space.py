"""The MPEG NNC standard as a search space: the decision is NNCodec's quantization parameter.

A space that is a whole codec: ``quantize`` codes the shared weights with NNCodec (uniform and
dependent quantization, DeepCABAC) and returns the decoded weights as a :class:`Quantization`
whose ``native`` is the NNC bitstream itself, so the harness scores exactly what a decoder gives,
the ``bits`` size objective counts NNCodec's real size, and a ``native`` file stores the
bitstream (``wsbench.load_state_dict`` decodes it through :meth:`NNCodecSpace.decode`). As the
standard codes a whole model, the bitstream also codes every other state-dict entry (biases,
BatchNorm at NNCodec's nonweight qp -75, a step of 2.3e-6; integer buffers losslessly), so a
file's size is the standard's and nothing is stored twice; ``code_rest=false`` leaves them to
the file as fp32. Beyond the standard's defaults: ``rest_qp`` codes them coarser, and
``pack_rest`` codes them as one float and one integer vector (one NNC header instead of one per
tensor). The harness scores what the file decodes, rest included. The quantizer of the trial
is not used: NNCodec quantizes. The standard's core path uses no data; beyond it,
``bias_correction = N`` calibrates on N training images (validation where a task has no
training inputs) and codes the rest after an empirical bias correction of the decoded weights
(:mod:`wsbench.codec.bias_correction`), and ``gptq = N`` rounds the shared weights onto the
qp's uniform grid with GPTQ's error compensation on N of them (:mod:`wsbench.codec.gptq`)
before NNC codes them with uniform reconstruction, which keeps every value; either way a
decoder gets the model with nothing new to do. Needs the optional extra:
``pip install -e '.[nncodec]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from wsbench_plugins.nncodec_adapter import NONWEIGHT_QP

from wsbench import NativeCode, Quantization, hookimpl
from wsbench.errors import ConfigError, FormatError
from wsbench.options import Range, Seed

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import Quantizer
    from wsbench.codec.weights import WeightView

QP_LIMITS = (-100, 40)  # beyond these the step is below float32 resolution or above any weight
QP = Annotated[int, Range(*QP_LIMITS)]
IMAGES = Annotated[int, Range(0, 100_000)]  # calibration inputs (0: off)


class NNCodecSpace:
    """One integer qp in [qp_min, qp_max] (step = 2 ** (qp / 4) at multiples of 4), or with
    ``per_tensor`` one qp per shared tensor: the search then spends bits where the validation
    metric needs them, which the standard's one qp cannot."""

    name = "nncodec"

    def __init__(self, qp_min: QP = -38, qp_max: QP = -14, use_dq: bool | None = None,
                 per_tensor: bool = False, code_rest: bool = True, rest_qp: QP = NONWEIGHT_QP,
                 pack_rest: bool = False, bias_correction: IMAGES = 0, gptq: IMAGES = 0,
                 calib_seed: Seed = 0) -> None:
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (qp_min, qp_max))
        if not (ints and QP_LIMITS[0] <= qp_min <= qp_max <= QP_LIMITS[1]):
            raise ConfigError(f"qp bounds must be integers with {QP_LIMITS[0]} <= qp_min <= qp_max "
                              f"<= {QP_LIMITS[1]}, got [{qp_min!r}, {qp_max!r}]")
        self.xl, self.xu = np.array([float(qp_min)]), np.array([float(qp_max)])
        self.integer = np.array([True])
        if isinstance(rest_qp, bool) or not isinstance(rest_qp, (int, np.integer)) or not (
                QP_LIMITS[0] <= rest_qp <= QP_LIMITS[1]):
            raise ConfigError(f"rest_qp must be an integer in [{QP_LIMITS[0]}, {QP_LIMITS[1]}], "
                              f"got {rest_qp!r}")
        gptq = _count(gptq, "gptq must be a number of calibration images >= 0 (0: off)")
        if gptq and use_dq:
            raise ConfigError("gptq rounds the weights onto the uniform grid, which dependent "
                              "quantization would round again: leave use_dq unset (or false)")
        self.gptq = gptq
        # which calibration images: a draw to repeat, not to tune
        self.calib_seed = _count(calib_seed, "calib_seed must be an integer >= 0")
        self.use_dq = (not self.gptq) if use_dq is None else bool(use_dq)
        self.per_tensor, self.code_rest = bool(per_tensor), bool(code_rest)
        self.rest_qp, self.pack_rest = int(rest_qp), bool(pack_rest)
        bias_correction = _count(bias_correction,
                                 "bias_correction must be a number of calibration images >= 0 (0: off)")
        if bias_correction and not self.code_rest:
            raise ConfigError("bias_correction changes BatchNorm means and biases, which only a "
                              "file that codes the rest can carry: set code_rest = true")
        self.bias_correction = bias_correction
        self._correction: Any = None
        self._gptq_x: "torch.Tensor | None" = None
        self._view: "WeightView | None" = None
        self._d: dict[int, int] = {}  # qp -> distinct decoded values, for k_of

    def unavailable(self) -> str | None:
        """Why this space cannot run here (the optional extra is missing), or None."""
        from wsbench_plugins import nncodec_adapter

        return None if nncodec_adapter.available() else (
            f"the nncodec space needs the nncodec package; {nncodec_adapter.INSTALL_HINT}")

    def bind(self, view: "WeightView") -> None:
        self._view, self._d, self._correction, self._gptq_x = view, {}, None, None
        if self.per_tensor:
            n = len(view.names)
            self.xl, self.xu = np.full(n, self.xl[0]), np.full(n, self.xu[0])
            self.integer = np.ones(n, dtype=bool)

    def calibrate(self, x: "torch.Tensor") -> None:
        """Calibration inputs from the harness (the task's training split where it has one),
        the trained weights in place: ``bias_correction`` and ``gptq`` use that many of them,
        the first of one order seeded by ``calib_seed`` (so the smaller set is part of the
        larger)."""
        import torch

        from wsbench.codec.bias_correction import BiasCorrection

        if not (self.bias_correction or self.gptq) or self._view is None:
            return
        gen = torch.Generator().manual_seed(self.calib_seed)
        order = torch.randperm(len(x), generator=gen).to(x.device)
        if self.gptq:
            self._gptq_x = x[torch.sort(order[:self.gptq]).values]
        if self.bias_correction:
            rows = torch.sort(order[:self.bias_correction]).values
            self._correction = BiasCorrection.calibrate(self._view.model, x[rows])

    def _rounded(self, view: "WeightView", arrays: dict[str, np.ndarray],
                 qps: list[int]) -> dict[str, np.ndarray]:
        """``arrays`` rounded by GPTQ onto each tensor's grid (its qp's step), trained model in."""
        from wsbench_plugins.nncodec_adapter import step_size

        from wsbench.codec.gptq import gptq_round

        if self._gptq_x is None:
            raise ConfigError("gptq needs calibration inputs: call calibrate() after bind()")
        steps = {n: step_size(q) for n, q in zip(arrays, qps if self.per_tensor else qps * len(arrays))}
        view.restore()  # the harness may have left the last decision's weights in the model
        return gptq_round(view.model, arrays, steps, self._gptq_x)

    def _code(self, arrays: dict[str, np.ndarray], qps: list[int],
              rest: dict[str, np.ndarray]) -> tuple[bytes, dict[str, np.ndarray], Any]:
        from wsbench_plugins import nncodec_adapter

        per = dict(zip(arrays, qps)) if self.per_tensor else None
        coded, layout = pack(rest) if self.pack_rest else (rest, None)
        payload = nncodec_adapter.encode(arrays | coded, qps[0], weights=list(arrays),
                                         use_dq=self.use_dq, qp_per_tensor=per,
                                         nonweight_qp=self.rest_qp)
        decoded = nncodec_adapter.decode(payload)
        return payload, (unpack(decoded, layout) if layout is not None else decoded), layout

    def _corrected(self, view: "WeightView", rest: dict[str, np.ndarray],
                   flat: np.ndarray) -> dict[str, np.ndarray]:
        """The rest after bias correction of the decoded weights ``flat`` (model put back)."""
        import torch

        try:
            view.write(torch.from_numpy(flat).to(view.original.device))
            view.write_rest(rest)
            changed = self._correction.apply(view.model)
        finally:
            view.restore()
        return rest | {n: t.cpu().numpy().astype(rest[n].dtype) for n, t in changed.items()
                       if n in rest}

    def quantize(self, view: "WeightView", quantizer: "Quantizer", x: np.ndarray) -> Quantization:
        import torch

        qps = [int(round(float(v))) for v in np.atleast_1d(x)]
        rest = _rest_arrays(view) if self.code_rest else {}
        sizes = [p.numel() for p in view.params]
        arrays = {n: t.detach().cpu().numpy() for n, t in view.split(view.original).items()}
        if self.gptq:
            arrays = self._rounded(view, arrays, qps)
        payload, decoded, layout = self._code(arrays, qps, rest)
        flat = _pooled(decoded, view.names, sizes)
        if self._correction is not None:  # code again, the rest corrected for these weights
            rest = self._corrected(view, rest, flat)
            payload, decoded, layout = self._code(arrays, qps, rest)
            flat = _pooled(decoded, view.names, sizes)
        values, inverse = torch.unique(torch.from_numpy(flat), return_inverse=True)
        header = {"qp": qps if self.per_tensor else qps[0], "use_dq": self.use_dq,
                  **({"packed": layout} if layout is not None else {})}
        native = NativeCode(self.name, payload, header, tuple(rest),
                            decoded_rest={n: decoded[n] for n in rest})
        self._d[tuple(qps)] = int(values.numel())
        return Quantization(values.to(torch.float32), inverse.reshape(-1).to(torch.int64),
                            int(values.numel()), native)

    def decode(self, header: dict[str, Any], payload: bytes,
               shared: list[tuple[str, tuple[int, ...], str]],
               max_values: int | None = None) -> "torch.Tensor":
        """The pooled shared weights of a ``native`` file's payload (``shared`` from its header)
        and every other tensor it codes; a payload declaring more than ``max_values`` values
        (what the file's header declares) is refused before it is decoded."""
        import torch
        from wsbench_plugins import nncodec_adapter

        sizes = [int(np.prod(shape)) for _, shape, _ in shared]
        arrays = nncodec_adapter.decode(payload, max_values=max_values)
        if "packed" in header:
            arrays = unpack(arrays, header["packed"])
        names = [n for n, _, _ in shared]
        flat = _pooled(arrays, names, sizes)
        return torch.from_numpy(flat), {n: a for n, a in arrays.items() if n not in set(names)}

    def k_of(self, x: np.ndarray) -> int:
        """K is the number of distinct decoded values (NNCodec has no K; qp is the decision)."""
        qp = tuple(int(round(float(v))) for v in np.atleast_1d(x))
        if qp not in self._d:
            if self._view is None:
                raise ConfigError("the nncodec space is not bound to a model")
            self.quantize(self._view, None, x)  # type: ignore[arg-type]
        return self._d[qp]


def _count(value: Any, rule: str) -> int:
    """``value`` as an int >= 0, else one ConfigError saying ``rule``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{rule}, got {value!r}")
    return int(value)


def _rest_arrays(view: "WeightView") -> dict[str, np.ndarray]:
    """The model's non-shared tensors NNC can code: floats, and integers within int32."""
    shared = set(view.names)
    out = {}
    for name, t in view.rest_state().items():
        a = t.detach().cpu().numpy()
        if name in shared or a.size == 0:
            continue
        if a.dtype.kind == "f" or (a.dtype.kind in "iu" and np.iinfo(np.int32).min <= a.min()
                                   and a.max() <= np.iinfo(np.int32).max):
            out[name] = a
    return out


PACKED = {"f": "wsbench:rest.float", "i": "wsbench:rest.int"}  # no state-dict name has a colon


def pack(rest: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, list]]:
    """The rest as one float32 and one int32 vector (NNC spends ~50 bytes of header per tensor:
    a ResNet-20's 77 BatchNorm/bias tensors cost ~4 kB of headers alone), and their layout."""
    out, layout = {}, {}
    for kind, key in PACKED.items():
        names = [n for n, a in rest.items() if (a.dtype.kind == "f") == (kind == "f")]
        if names:
            dtype = np.float32 if kind == "f" else np.int32
            out[key] = np.concatenate([rest[n].astype(dtype).reshape(-1) for n in names])
            layout[kind] = [[n, int(rest[n].size)] for n in names]
    return out, layout


def unpack(arrays: dict[str, np.ndarray], layout: Any) -> dict[str, np.ndarray]:
    """:func:`pack` undone (FormatError when the layout does not match the payload)."""
    out = {k: v for k, v in arrays.items() if k not in PACKED.values()}
    if not isinstance(layout, dict) or set(layout) - set(PACKED):
        raise FormatError("a packed NNC file's layout must map 'f'/'i' to [name, size] rows")
    for kind, rows in layout.items():
        flat = np.asarray(arrays.get(PACKED[kind], np.zeros(0))).reshape(-1)
        ok = isinstance(rows, list) and all(
            isinstance(r, list) and len(r) == 2 and isinstance(r[0], str)
            and isinstance(r[1], int) and r[1] > 0 for r in rows)
        if not ok or sum(r[1] for r in rows) != flat.size:
            raise FormatError(f"the packed rest ({flat.size} values) does not match its layout")
        offset = 0
        for name, size in rows:
            out[name] = flat[offset:offset + size]
            offset += size
    return out


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
             "shared tensor); bias_correction=N and gptq=N calibrate on N training images; the "
             "quantizer is unused; needs the nncodec extra.")
