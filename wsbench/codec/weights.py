"""A structure-agnostic view of a model's shareable weights as one pooled vector.

The paper pools the ``.weight`` of every Conv and Linear layer; ``include="all"`` pools every
floating-point parameter instead (GRUs, attention, norms). Writing back copies into the existing
parameter storage, so an evaluation never deep-copies or reallocates the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wsbench.errors import ModelError

if TYPE_CHECKING:
    import torch

Include = Literal["conv-linear", "all"]


def _is_conv_or_linear(module: "torch.nn.Module") -> bool:
    import torch.nn as nn

    return isinstance(module, (nn.Linear, nn.modules.conv._ConvNd))


def shared_parameter_names(model: "torch.nn.Module", include: Include = "conv-linear") -> list[str]:
    """Names (as in ``state_dict``) of the parameters that join the global codebook."""
    if include not in ("conv-linear", "all"):
        raise ModelError(f"unknown weight selection {include!r}; use 'conv-linear' or 'all'")
    names: list[str] = []
    if include == "all":
        names = [n for n, p in model.named_parameters() if p.is_floating_point()]
    else:
        for mod_name, module in model.named_modules():
            weight = getattr(module, "weight", None)
            if _is_conv_or_linear(module) and weight is not None and weight.is_floating_point():
                names.append(f"{mod_name}.weight" if mod_name else "weight")
    if not names:
        raise ModelError(
            f"model {type(model).__name__} has no shareable weights "
            f"(selection {include!r}); try include='all'"
        )
    return names


@dataclass
class WeightView:
    """The pooled weights of ``model`` plus a pristine copy to restore or re-quantize from."""

    model: "torch.nn.Module"
    names: list[str]
    params: list["torch.Tensor"]
    original: "torch.Tensor"  # pooled fp32 copy of the trained weights, on the model's device
    include: Include = "conv-linear"
    #: trained values of the non-shared entries written by :meth:`write_rest`, to put back
    saved_rest: dict[str, "torch.Tensor"] = field(default_factory=dict)

    @classmethod
    def of(cls, model: "torch.nn.Module", include: Include = "conv-linear") -> "WeightView":
        import torch

        names = shared_parameter_names(model, include)
        lookup = dict(model.named_parameters())
        params = [lookup[n] for n in names]
        with torch.no_grad():
            original = torch.cat([p.detach().reshape(-1).float() for p in params])
        if not bool(torch.isfinite(original).all()):
            bad = [n for n, p in zip(names, params) if not bool(torch.isfinite(p).all())]
            raise ModelError(f"model has NaN or inf weights in {', '.join(bad[:3])}"
                             + (" ..." if len(bad) > 3 else ""))
        return cls(model, names, params, original, include)

    @property
    def numel(self) -> int:
        return int(self.original.numel())

    @property
    def layer_sizes(self) -> list[int]:
        return [p.numel() for p in self.params]

    def write(self, flat: "torch.Tensor") -> None:
        """Copy a pooled vector into the model's parameters in place."""
        import torch

        if flat.numel() != self.numel:
            raise ValueError(f"vector has {flat.numel()} values, the view holds {self.numel}")
        with torch.no_grad():
            offset = 0
            for p in self.params:
                n = p.numel()
                p.copy_(flat[offset:offset + n].view_as(p))
                offset += n

    def fingerprint(self) -> str:
        """sha256 (16 hex) of the pooled trained weights: a task's name does not pin its weights."""
        import hashlib

        return hashlib.sha256(self.original.detach().cpu().numpy().tobytes()).hexdigest()[:16]

    def restore(self) -> None:
        """Put the trained weights back (and any non-shared entry :meth:`write_rest` changed)."""
        import torch

        self.write(self.original)
        if self.saved_rest:
            state = self.model.state_dict()
            with torch.no_grad():
                for name, t in self.saved_rest.items():
                    state[name].copy_(t)

    def rest_state(self) -> dict[str, "torch.Tensor"]:
        """The trained non-shared entries (biases, norms, buffers), whatever was written since."""
        shared = set(self.names)
        return {k: self.saved_rest.get(k, v) for k, v in self.model.state_dict().items()
                if k not in shared}

    def write_rest(self, values: dict[str, Any]) -> None:
        """Write decoded non-shared entries (a codec's biases and norms) so the model is scored
        as its file decodes; :meth:`restore` puts the trained ones back."""
        import numpy as np
        import torch

        state = self.model.state_dict()
        with torch.no_grad():
            for name, value in values.items():
                t = state[name]
                if name not in self.saved_rest:
                    self.saved_rest[name] = t.detach().clone()
                t.copy_(torch.as_tensor(np.asarray(value)).reshape(t.shape).to(t.dtype))

    def split(self, flat: "torch.Tensor") -> dict[str, "torch.Tensor"]:
        """A pooled vector as {parameter name: tensor shaped like that parameter}."""
        out = {}
        offset = 0
        for name, p in zip(self.names, self.params):
            n = p.numel()
            out[name] = flat[offset:offset + n].view(p.shape)
            offset += n
        return out


def flat_parameters(params: list["torch.Tensor"]) -> "torch.Tensor | None":
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
