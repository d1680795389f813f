#!/usr/bin/env bash
# Run HERE (a machine with PyPI), in the repo root, just before the GPU call: puts what the GPU
# machine cannot fetch into .gpu/ (git-ignored; name it in the device tool's `carry`):
#   .gpu/wheels/  Python 3.12 x86-64 wheels of benchmarks/gpu/wheels.txt (about 8 MB)
#   .gpu/data/    CIFAR-10 (JPEG), 18.5 MB, from $WSBENCH_CIFAR10 or ../shared/data
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu/wheels .gpu/data
grep -v '^#' benchmarks/gpu/wheels.txt | grep . | xargs python3 -m pip download -q --no-deps \
  --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .gpu/wheels
src="${WSBENCH_CIFAR10:-../shared/data/cifar10-jpeg.tar.xz}"
cp "$src" .gpu/data/cifar10-jpeg.tar.xz
du -sh .gpu/wheels .gpu/data
