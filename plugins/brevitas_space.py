"""Brevitas' post-training quantization as a search space: the decision is the weight bit width.

The library researchers reach for to quantize a trained network's weights without retraining
(Xilinx/AMD's Brevitas): each shared Conv2d/Linear becomes a Brevitas layer with signed,
narrow-range integer weights and one float scale per output channel (``scaling = "mse"``,
the default: the scale of least squared error; ``"stats"``: the channel's absolute maximum), rounded by one of
its methods: round to nearest (``rtn``), GPTQ (``gptq``: each input column rounded in turn,
its error compensated on the columns after it, from the layer's inputs on the calibration
images) or GPFQ (``gpfq``: the greedy path-following rounding against the float model's inputs).
The decision is one bit width for all, or with ``per_tensor`` one per shared tensor.

A space that is a whole codec, as ``nncodec`` is: ``quantize`` returns the decoded weights
(integer times scale, in float32) with a ``native`` payload that holds them losslessly: the
scales as float32 and the integers coded by the suite's context-adaptive arithmetic coder
(:mod:`wsbench.codec.adaptive`), so the ``bits`` size counts a real file and
``wsbench.load_state_dict`` decodes exactly the model the harness scored
(:meth:`BrevitasSpace.decode`). The trial's quantizer is not used. Calibration images come from
the harness (the task's training split where it has one), ``calibration`` of them in an order
seeded by ``calib_seed``. Needs the optional extra: ``pip install -e '.[brevitas]'``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from wsbench import NativeCode, Quantization, hookimpl
from wsbench.errors import ConfigError, FormatError
from wsbench.options import Range, Seed

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import Quantizer
    from wsbench.codec.weights import WeightView

METHODS = ("rtn", "gptq", "gpfq")
SCALINGS = ("stats", "mse")
BITS = (2, 16)
Bits = Annotated[int, Range(*BITS)]
INSTALL_HINT = "install it with: pip install -e '.[brevitas]'"


def available() -> bool:
    try:
        import brevitas  # noqa: F401
    except ImportError:
        return False
    return True


class BrevitasSpace:
    """Bit widths in [bits_min, bits_max], one for all or one per shared tensor."""

    name = "brevitas"

    def __init__(self, bits_min: Bits = 2, bits_max: Bits = 8, per_tensor: bool = False,
                 method: str = "gptq", scaling: str = "mse",
                 calibration: Annotated[int, Range(0, 100_000)] = 256, calib_seed: Seed = 0,
                 batch: Annotated[int, Range(1, 65_536)] = 64) -> None:
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                   for v in (bits_min, bits_max, calibration, calib_seed, batch))
        if not (ints and BITS[0] <= bits_min <= bits_max <= BITS[1]):
            raise ConfigError(f"bit widths must be integers with {BITS[0]} <= bits_min <= bits_max "
                              f"<= {BITS[1]}, got [{bits_min!r}, {bits_max!r}]")
        if method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
        if calibration < (1 if method != "rtn" else 0) or calib_seed < 0 or batch < 1:
            raise ConfigError(f"calibration must be >= 1 image for {method} (got {calibration}), "
                              f"calib_seed >= 0 (got {calib_seed}), batch >= 1 (got {batch})")
        self.bits = (int(bits_min), int(bits_max))
        self.xl, self.xu = np.array([float(bits_min)]), np.array([float(bits_max)])
        self.integer = np.array([True])
        self.per_tensor, self.method, self.scaling = bool(per_tensor), method, scaling
        self.calibration, self.calib_seed, self.batch = int(calibration), int(calib_seed), int(batch)
        self._view: "WeightView | None" = None
        self._x: "torch.Tensor | None" = None
        self._d: dict[tuple[int, ...], int] = {}

    def unavailable(self) -> str | None:
        """Why this space cannot run here (the optional extra is missing), or None."""
        return None if available() else f"the brevitas space needs the brevitas package; {INSTALL_HINT}"

    def bind(self, view: "WeightView") -> None:
        self._view, self._x, self._d = view, None, {}
        layers = shared_layers(view.model, view.names)  # refuses what it cannot quantize
        if self.per_tensor:
            n = len(layers)
            self.xl, self.xu = np.full(n, float(self.bits[0])), np.full(n, float(self.bits[1]))
            self.integer = np.ones(n, dtype=bool)

    def calibrate(self, x: "torch.Tensor") -> None:
        """The first ``calibration`` inputs of one order seeded by ``calib_seed``."""
        import torch

        gen = torch.Generator().manual_seed(self.calib_seed)
        order = torch.randperm(len(x), generator=gen).to(x.device)
        self._x = x[torch.sort(order[:self.calibration]).values]

    def quantize(self, view: "WeightView", quantizer: "Quantizer", x: np.ndarray) -> Quantization:
        import torch

        decision = tuple(int(round(float(v))) for v in np.atleast_1d(x))
        bits = list(decision) if self.per_tensor else list(decision) * len(view.names)
        view.restore()  # the trained weights: the harness may have left a decision's in
        ints, scales = self._rounded(view, bits)
        payload, header = encode(ints, scales, bits, self.method, self.scaling)
        flat = dequantize(ints, scales)
        values, inverse = torch.unique(flat, return_inverse=True)
        self._d[decision] = int(values.numel())
        return Quantization(values.to(torch.float32), inverse.reshape(-1).to(torch.int64),
                            int(values.numel()), NativeCode(self.name, payload, header))

    def _rounded(self, view: "WeightView", bits: list[int]
                 ) -> tuple[list["torch.Tensor"], list["torch.Tensor"]]:
        """Integer weights and per-channel scales of every shared tensor, in the view's order."""
        import torch

        if self.method != "rtn" and self._x is None:
            raise ConfigError(f"{self.method} needs calibration inputs: call calibrate() after bind()")
        model = copy.deepcopy(view.model).eval()
        layers = quant_layers(model, view.names, dict(zip(view.names, bits)), self.scaling)
        with torch.no_grad():
            if self._x is not None:  # a forward initialises the weight quantizers (mse scales)
                model(self._x[:self.batch])
            if self.method != "rtn":
                self._run(model)
            out = [layers[n].quant_weight() for n in view.names]
        return ([q.int().to(torch.int64).cpu() for q in out],
                [q.scale.detach().to(torch.float32).reshape(-1).cpu() for q in out])

    def _run(self, model: "torch.nn.Module") -> None:
        from brevitas.graph.gpfq import gpfq_mode
        from brevitas.graph.gptq import gptq_mode

        mode = gptq_mode if self.method == "gptq" else gpfq_mode
        with mode(model, use_quant_activations=False) as algo:
            for _ in range(algo.num_layers):
                for i in range(0, len(self._x), self.batch):
                    algo.model(self._x[i:i + self.batch])
                algo.update()

    def decode(self, header: dict[str, Any], payload: bytes,
               shared: list[tuple[str, tuple[int, ...], str]]) -> "torch.Tensor":
        """The pooled shared weights of a ``native`` file's payload."""
        ints, scales = decode(header, payload, [tuple(s) for _, s, _ in shared])
        return dequantize(ints, scales)

    def k_of(self, x: np.ndarray) -> int:
        """K is the number of distinct decoded values (the decision is a bit width)."""
        bits = tuple(int(round(float(v))) for v in np.atleast_1d(x))
        if bits not in self._d:
            if self._view is None:
                raise ConfigError("the brevitas space is not bound to a model")
            self.quantize(self._view, None, x)  # type: ignore[arg-type]
        return self._d[bits]


def shared_layers(model: "torch.nn.Module", names: list[str]) -> dict[str, str]:
    """Shared weight name -> its Conv2d/Linear module's name; anything else shared is refused."""
    import torch.nn as nn

    found = {f"{m}.weight": m for m, mod in model.named_modules()
             if isinstance(mod, (nn.Conv2d, nn.Linear)) and f"{m}.weight" in set(names)}
    other = [n for n in names if n not in found]
    if other:
        raise ConfigError(f"the brevitas space quantizes Conv2d and Linear weights; the model "
                          f"shares {other[0]!r} too (use include = \"conv-linear\")")
    return found


def quant_layers(model: "torch.nn.Module", names: list[str], bits: dict[str, int],
                 scaling: str, quants: dict[str, Any] | None = None) -> dict[str, "torch.nn.Module"]:
    """Each shared Conv2d/Linear of ``model`` replaced in place by its Brevitas counterpart
    (weights quantized per output channel, activations left alone); weight name -> layer.
    ``quants`` gives some weights a weight quantizer of their own (e.g. a fixed grid)."""
    import brevitas.nn as qnn
    import torch.nn as nn
    from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerChannelFloatMSE

    quant = Int8WeightPerChannelFloat if scaling == "stats" else Int8WeightPerChannelFloatMSE
    out = {}
    for weight, module_name in shared_layers(model, names).items():
        parent_name, _, attr = module_name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        old = getattr(parent, attr)
        common = dict(bias=old.bias is not None, weight_quant=(quants or {}).get(weight, quant),
                      weight_bit_width=bits[weight], device=old.weight.device)
        if isinstance(old, nn.Conv2d):
            new = qnn.QuantConv2d(old.in_channels, old.out_channels, old.kernel_size, old.stride,
                                  old.padding, old.dilation, old.groups,
                                  padding_mode=old.padding_mode, **common)
        else:
            new = qnn.QuantLinear(old.in_features, old.out_features, **common)
        new.load_state_dict(old.state_dict(), strict=False)
        setattr(parent, attr, new.eval())
        out[weight] = new
    return out


def dequantize(ints: list["torch.Tensor"], scales: list["torch.Tensor"]) -> "torch.Tensor":
    """The pooled float32 weights: each integer times its output channel's scale."""
    import torch

    parts = [(q.to(torch.float32).reshape(len(s), -1) * s[:, None]).reshape(-1)
             for q, s in zip(ints, scales)]
    return torch.cat(parts) if parts else torch.zeros(0)


def encode(ints: list["torch.Tensor"], scales: list["torch.Tensor"], bits: list[int],
           method: str, scaling: str) -> tuple[bytes, dict[str, Any]]:
    """Scales as float32, then every integer weight coded adaptively in one stream (level =
    the integer itself: the codebook is -m..m around 0)."""
    from wsbench.codec import adaptive

    m = max((1 << (b - 1)) - 1 for b in bits)
    levels = np.concatenate([q.numpy().reshape(-1) for q in ints]) + m
    code = adaptive.encode(levels, [q.numel() for q in ints], np.arange(2 * m + 1))
    scale_bytes = np.concatenate([s.numpy() for s in scales]).astype("<f4").tobytes()
    header = {"bits": bits, "method": method, "scaling": scaling, "m": m, "zero": code.zero,
              "scale_bytes": len(scale_bytes), "adaptive": adaptive.params()}
    return scale_bytes + code.data, header


def decode(header: dict[str, Any], payload: bytes, shapes: list[tuple[int, ...]]
           ) -> tuple[list["torch.Tensor"], list["torch.Tensor"]]:
    """Integers and scales back from a payload; anything inconsistent is a FormatError."""
    import torch

    from wsbench.codec import adaptive

    try:
        m, zero, n_scale = int(header["m"]), int(header["zero"]), int(header["scale_bytes"])
        bits = [int(b) for b in header["bits"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"a brevitas payload's header is incomplete: {exc}") from None
    channels = [int(s[0]) if s else 1 for s in shapes]
    sizes = [int(np.prod(s)) for s in shapes]
    if (len(bits) != len(shapes) or n_scale != 4 * sum(channels) or n_scale > len(payload)
            or header.get("adaptive") != adaptive.params() or not 0 < m < 1 << 15):
        raise FormatError("a brevitas payload does not match its header")
    s = np.frombuffer(payload[:n_scale], dtype="<f4").astype(np.float32)
    try:
        levels = adaptive.decode(payload[n_scale:], sizes, 2 * m + 1, zero) - m
    except ValueError as exc:
        raise FormatError(f"a brevitas payload's integers do not decode: {exc}") from None
    limits = np.repeat([(1 << (b - 1)) - 1 for b in bits], sizes)
    if not np.isfinite(s).all() or np.any(np.abs(levels) > limits):
        raise FormatError("a brevitas payload holds a scale that is not finite or an integer "
                          "beyond its bit width")
    ints = [torch.from_numpy(a) for a in np.split(levels, np.cumsum(sizes)[:-1])]
    scales = [torch.from_numpy(a.copy()) for a in np.split(s, np.cumsum(channels)[:-1])]
    return [q.reshape(shape) for q, shape in zip(ints, shapes)], scales


@hookimpl
def wsbench_register_spaces(register) -> None:
    register("brevitas", BrevitasSpace,
             "Brevitas post-training quantization (optional extra): per-channel integer weights "
             "at a searched bit width, rounded by RTN, GPTQ or GPFQ; files decode exactly.")
