"""Error-compensating rounding onto a uniform grid, without retraining (GPTQ: Frantar et al.,
ICLR 2023, after Optimal Brain Quantization).

Rounding each weight to its nearest grid point ignores what the layer computes. GPTQ rounds a
layer's input columns one at a time and moves the not-yet-rounded columns so that the layer's
output on calibration inputs ``X`` changes as little as possible (least squares, through the
inverse of ``H = X^T X``). Columns go in order of decreasing ``diag(H)`` (the most used inputs
first) and the layers go in forward order, each seeing the inputs of the already-rounded layers
before it. The result lies exactly on the grid ``step * integer`` of each tensor, so a codec with
that step (NNC with uniform reconstruction at the same qp) codes it without changing a value.

On the CIFAR-10 (JPEG) ResNet-20, 256 training images, coded by NNC at one qp with bias
correction, the validation F1 drop at whole-file CR ~15.5 went from 0.70 points (NNC's dependent
quantization, qp -21) to 0.36 (qp -18). Conv2d (groups 1) and Linear layers are rounded this way,
and so are the two matrices of a recurrent layer that ATen's fused kernel runs (``torch.gru``,
``torch.lstm``, ``torch.rnn_*``, which ``nn.GRU``, ``nn.LSTM`` and ``nn.RNN`` call; one layer,
one direction, called once a sequence or once a step):
its input-to-hidden matrix sees the input sequence, its hidden-to-hidden matrix the hidden states
``h_0 .. h_{T-1}``. A kernel hides those products from module hooks, so a forward pass is watched
at the level of torch functions instead. Any other shared tensor is rounded to nearest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

DAMP = 0.01  # ridge added to H, as a fraction of its mean diagonal (GPTQ's default)
CHUNK = 32   # calibration images per forward pass when accumulating H


RECURRENT = ("gru", "lstm", "rnn_tanh", "rnn_relu")  # ATen's fused recurrent ops


class _Stop(Exception):
    """Ends a forward pass once the wanted layer's input is seen."""


def _recurrent_call(func, args: tuple) -> tuple | None:
    """``(input, state, params, batch_first)`` of a fused recurrent op's call over a padded
    sequence with one layer and one direction (``state``: its ``[1, N, H]`` initial hidden
    state); None for any other call: packed sequences (their overload has the parameters third,
    not fourth), stacked or bidirectional layers, projections, keyword arguments. Their
    matrices are rounded to nearest."""
    import torch

    if getattr(func, "__name__", "") not in RECURRENT or len(args) != 9:
        return None
    inputs, hx, params, has_bias, layers, _dropout, _train, bidirectional, batch_first = args
    if (not isinstance(inputs, torch.Tensor) or inputs.dim() != 3  # nn.GRU adds the batch
            or not isinstance(params, (list, tuple))
            or not isinstance(has_bias, bool) or layers != 1 or bidirectional
            or len(params) not in (2, 4)):
        return None
    state = hx[0] if isinstance(hx, (list, tuple)) else hx  # an LSTM's is (h, c)
    return inputs, state, list(params), batch_first


def _watch(weights: dict[int, str], seen: list[str], want: str | None = None):
    """A torch function mode for one pass that appends to the caller's ``seen``, in call order,
    the ``weights`` (``id`` -> name) fused recurrent ops use, and keeps them in ``used``; with
    ``want``, it collects in ``rows`` what that weight multiplies in every call of the pass (a
    model may call the kernel once a step)."""
    import torch
    from torch.overrides import TorchFunctionMode

    class Watch(TorchFunctionMode):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[torch.Tensor] = []
            self.used: set[str] = set()

        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            call = _recurrent_call(func, args)
            if call is None:
                return out
            inputs, state, params, batch_first = call
            ih, hh = (weights.get(id(p)) for p in params[:2])
            mine = [n for n in (ih, hh) if n is not None]
            seen.extend(mine)
            self.used.update(mine)
            if want is not None and want == ih:
                self.rows.append(inputs.reshape(-1, inputs.shape[-1]))
            elif want is not None and want == hh:  # h_0, then every state but the last
                t, states = (1 if batch_first else 0), out[0]
                steps = torch.cat([state[0].unsqueeze(t),
                                   states.narrow(t, 0, states.shape[t] - 1)], t)
                self.rows.append(steps.reshape(-1, steps.shape[-1]))
            return out

    return Watch()


def _forward_order(model: "torch.nn.Module", x: "torch.Tensor", names: list[str]
                   ) -> tuple[list[str], set[str], set[str]]:
    """``names`` in the order a forward pass uses them, those never used last; the names whose
    modules a forward pass calls (``<module>.weight``); and those a fused recurrent op uses. A
    model may use a layer's weight without calling the layer, through a functional call GPTQ has
    no inputs for (rounded to nearest then) or through a recurrent kernel, whose inputs it sees."""
    import torch

    modules, params, seen = dict(model.named_modules()), dict(model.named_parameters()), []
    wanted = {n.rsplit(".", 1)[0]: n for n in names if n.endswith(".weight")}
    hooks = [modules[m].register_forward_pre_hook(lambda _m, _i, n=n: seen.append(n))
             for m, n in wanted.items() if m in modules]
    watch = _watch({id(params[n]): n for n in names if n in params}, seen)
    try:
        with torch.no_grad(), watch:
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    order = list(dict.fromkeys(seen))
    return order + [n for n in names if n not in order], set(seen) - watch.used, watch.used


def _inputs(model: "torch.nn.Module", module: "torch.nn.Module", x: "torch.Tensor") -> "torch.Tensor":
    """What ``module`` receives when ``model`` (as it is now) runs on ``x``."""
    import torch

    got = []

    def hook(_m, inputs):
        got.append(inputs[0].detach())
        raise _Stop

    handle = module.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    return got[0]


def _rows(module: "torch.nn.Module", inputs: "torch.Tensor") -> "torch.Tensor":
    """The layer's input rows (image patches for a convolution), float64."""
    import torch

    if isinstance(module, torch.nn.Conv2d):
        cols = torch.nn.functional.unfold(inputs, module.kernel_size, dilation=module.dilation,
                                          padding=module.padding, stride=module.stride)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1]).double()
    return inputs.reshape(-1, inputs.shape[-1]).double()


def _recurrent_rows(model: "torch.nn.Module", name: str, x: "torch.Tensor") -> "torch.Tensor":
    """What the fused recurrent op's matrix ``name`` multiplies when ``model`` runs on ``x``
    (samples on dimension 0), one row per step and sample, over every call of the pass."""
    import torch

    watch = _watch({id(dict(model.named_parameters())[name]): name}, [], want=name)
    with torch.no_grad(), watch:
        model(x)
    return torch.cat(watch.rows) if watch.rows else x.new_zeros(0, 0)


def _hessian(model: "torch.nn.Module", module: "torch.nn.Module | None", x: "torch.Tensor",
             chunk: int = CHUNK, kernel_weight: str | None = None) -> "torch.Tensor | None":
    """``X^T X / n`` (float64, on the CPU) of ``module``'s input rows on ``x`` (or of what a
    recurrent kernel multiplies ``kernel_weight`` by), accumulated ``chunk`` samples at a
    time, so a large model's patches never all sit in memory at once; None without rows."""
    total, n = None, 0
    for i in range(0, len(x), chunk):
        if kernel_weight is not None:
            rows = _recurrent_rows(model, kernel_weight, x[i:i + chunk]).double()
            if not len(rows):
                continue
        else:
            rows = _rows(module, _inputs(model, module, x[i:i + chunk]))
        part = (rows.T @ rows).cpu()
        total, n = (part if total is None else total + part), n + len(rows)
    return None if total is None else total / max(n, 1)


def round_columns(weight: "torch.Tensor", hessian: "torch.Tensor", step: float,
                  damp: float = DAMP) -> "torch.Tensor":
    """``weight`` (rows x columns) rounded to multiples of ``step`` column by column, each
    column's error compensated on the columns after it (float64 result)."""
    import torch

    w, h = weight.double().clone(), hessian.double().clone()
    n = w.shape[1]
    dead = torch.diag(h) == 0  # inputs that are always zero: their weights do nothing
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    perm = torch.argsort(torch.diag(h), descending=True, stable=True)
    w, h = w[:, perm], h[perm][:, perm]
    h += damp * torch.mean(torch.diag(h)) * torch.eye(n, dtype=h.dtype, device=h.device)
    inv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    for i in range(n):
        q[:, i] = torch.round(w[:, i] / step) * step
        err = (w[:, i] - q[:, i]) / inv[i, i]
        w[:, i + 1:] -= err[:, None] * inv[i, i + 1:][None, :]
    return q[:, torch.argsort(perm)]


def gptq_round(model: "torch.nn.Module", tensors: dict[str, np.ndarray], steps: dict[str, float],
               x: "torch.Tensor") -> dict[str, np.ndarray]:
    """Each of ``tensors`` (``<module>.weight`` -> its trained values) rounded to multiples of
    ``steps[name]``, sequentially in forward order on calibration inputs ``x``, returned in
    the order of ``tensors``. The model's weights are put back afterwards."""
    import torch

    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    saved = {n: params[n].detach().clone() for n in tensors}
    out: dict[str, np.ndarray] = {}
    try:
        order, called, kernel = _forward_order(model, x, list(tensors))
        for name in order:
            module = modules.get(name.rsplit(".", 1)[0])
            trained = torch.from_numpy(np.asarray(tensors[name], dtype=np.float32))
            fits = name in called and (isinstance(module, torch.nn.Linear) or (
                isinstance(module, torch.nn.Conv2d) and module.groups == 1))
            h = None
            if name in kernel or (fits and name.endswith(".weight")):
                h = _hessian(model, module, x, kernel_weight=name if name in kernel else None)
            # a kernel's state seen only at zero (steps of length 1) says nothing of its use
            if h is not None and torch.any(torch.diag(h) != 0):
                q = round_columns(trained.reshape(len(trained), -1), h, steps[name])
            else:
                q = torch.round(trained.double() / steps[name]) * steps[name]
            out[name] = q.reshape(trained.shape).float().numpy()
            with torch.no_grad():
                params[name].copy_(torch.from_numpy(out[name]).to(params[name].device))
    finally:
        with torch.no_grad():
            for n, t in saved.items():
                params[n].copy_(t)
    return {n: out[n] for n in tensors}  # callers zip it with per-tensor settings
