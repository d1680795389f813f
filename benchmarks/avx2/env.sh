# Source this on a CPU with AVX-512 to run the numerics of an AVX2-only machine (AMD EPYC Zen 2,
# where most records in benchmarks/records/ were made), so that its records are reused and new
# trials match them:
#   source benchmarks/avx2/env.sh && wsbench run benchmarks/suite-search.toml
# numpy: no AVX-512 dispatch (its sorts order ties differently there; RESULTS.md section 4), and
# sitecustomize.py makes wsbench's code identity report the level numpy then dispatches to.
# torch: ATen and oneDNN kernels held to AVX2; the BLAS libraries to their AVX2 (Haswell) paths.
# Checked on an Intel Xeon (Sapphire Rapids): the records of ResNet-56 NSGA-II seed 0 and every
# evaluation's fitness came back identical; BoTorch's proposals did not (RESULTS.md section 8).
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
export NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_KNL AVX512_KNM"
export ONEDNN_MAX_CPU_ISA=AVX2
export ATEN_CPU_CAPABILITY=avx2
export OPENBLAS_CORETYPE=Haswell
export MKL_ENABLE_INSTRUCTIONS=AVX2
