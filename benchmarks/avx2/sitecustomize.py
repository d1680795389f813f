"""Hold numpy's SIMD report to the targets its build dispatches to (numpy 1.26 detects
AVX512_SPR but has no kernels for it, so a CPU with AVX-512 disabled by NPY_DISABLE_CPU_FEATURES
still reported AVX512_SPR in wsbench's code identity)."""
import os

if os.environ.get("NPY_DISABLE_CPU_FEATURES"):
    try:
        from numpy.core._multiarray_umath import (__cpu_baseline__, __cpu_dispatch__,
                                                   __cpu_features__)
        for _name in list(__cpu_features__):
            if _name.startswith("AVX512_") and _name not in __cpu_dispatch__ + __cpu_baseline__:
                __cpu_features__[_name] = False
    except ImportError:
        pass
