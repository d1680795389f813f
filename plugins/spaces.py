"""Built-in search spaces."""

from __future__ import annotations

import numpy as np

from wsbench.errors import ConfigError
from wsbench.hookspecs import hookimpl


class KSpace:
    """The paper's space: one integer K in [k_min, k_max] for one global codebook."""

    name = "k"

    def __init__(self, k_min: int = 2, k_max: int = 1024) -> None:
        if not (isinstance(k_min, int) and isinstance(k_max, int)):
            raise ConfigError(f"K bounds must be integers, got {k_min!r}, {k_max!r}")
        if not 2 <= k_min <= k_max <= 1 << 20:
            raise ConfigError(f"K bounds must satisfy 2 <= k_min <= k_max <= 1048576, "
                              f"got [{k_min}, {k_max}]")
        self.xl = np.array([float(k_min)])
        self.xu = np.array([float(k_max)])
        self.integer = np.array([True])

    def bind(self, view) -> None:
        pass

    def quantize(self, view, quantizer, x):
        return quantizer.quantize(view.original, int(round(x[0])))

    def k_of(self, x) -> int:
        return int(round(x[0]))


@hookimpl
def wsbench_register_spaces(register) -> None:
    register("k", KSpace, "The paper's single integer K in [2, 1024]: one global codebook.")
