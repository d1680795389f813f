"""Model definitions used by the benchmarks (CIFAR ResNets)."""

from wsbench.models.resnet_cifar import build_model, cifar_resnet18, model_names, resnet20

__all__ = ["build_model", "cifar_resnet18", "model_names", "resnet20"]
