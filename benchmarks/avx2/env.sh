# Source this on a CPU with AVX-512 to run the numerics of an AVX2-only machine (AMD EPYC Zen 2,
# where most records in benchmarks/records/ were made), so that its records are reused and new
# trials match them:
#   source benchmarks/avx2/env.sh && wsbench run benchmarks/suite-search.toml
# numpy: no AVX-512 dispatch (its sorts order ties differently there; RESULTS.md section 4); the
# code identity then names AVX2, the level numpy dispatches to, as the AVX2 VM's records do.
# torch: ATen and oneDNN kernels held to AVX2; the BLAS libraries to their AVX2 (Haswell) paths.
# Checked on an Intel Xeon (Sapphire Rapids): ResNet-56's NSGA-II, CMA-ES and TPE trials (seed 0)
# and BoTorch's on digits-cnn came back identical to the AVX2 VM's records; BoTorch's on ResNet-56
# agreed for 22 evaluations, then proposed others (RESULTS.md, "Machines and records").
export NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_KNL AVX512_KNM"
export ONEDNN_MAX_CPU_ISA=AVX2
export ATEN_CPU_CAPABILITY=avx2
export OPENBLAS_CORETYPE=Haswell
export MKL_ENABLE_INSTRUCTIONS=AVX2
