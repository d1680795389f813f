"""CIFAR ResNets: the 0.27M-parameter ResNet-20 of He et al. (2016) and ResNet-18 with a CIFAR stem.

ResNet-20 uses the paper's option A shortcut (parameter-free: stride-2 subsampling plus
zero-padded channels), which is what gives the canonical ~0.27M parameter count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsbench.errors import ConfigError


class _ShortcutA(nn.Module):
    """Option A shortcut: subsample spatially and zero-pad the new channels (no parameters)."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad = planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.pad // 2
        return F.pad(x, (0, 0, 0, 0, half, self.pad - half))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity or option-A shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut: nn.Module = _ShortcutA(in_planes, planes, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al. (2016) CIFAR ResNet: 3 stages of 16/32/64 channels, n basic blocks each."""

    def __init__(self, blocks_per_stage: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers = []
        in_planes = 16
        for i, planes in enumerate((16, 32, 64)):
            stage = []
            for j in range(blocks_per_stage):
                stride = 2 if (i > 0 and j == 0) else 1
                stage.append(BasicBlock(in_planes, planes, stride))
                in_planes = planes
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out)


def resnet20(num_classes: int = 10) -> nn.Module:
    """ResNet-20 for 32x32 inputs (option A shortcuts, ~0.27M parameters)."""
    return CifarResNet(3, num_classes)


def resnet32(num_classes: int = 10) -> nn.Module:
    """ResNet-32 for 32x32 inputs (option A shortcuts, ~0.46M parameters)."""
    return CifarResNet(5, num_classes)


def resnet44(num_classes: int = 10) -> nn.Module:
    """ResNet-44 for 32x32 inputs (option A shortcuts, ~0.66M parameters)."""
    return CifarResNet(7, num_classes)


def resnet56(num_classes: int = 10) -> nn.Module:
    """ResNet-56 for 32x32 inputs (option A shortcuts, ~0.85M parameters)."""
    return CifarResNet(9, num_classes)


_TV_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


def cifar_torchvision_resnet(name: str, num_classes: int = 10) -> nn.Module:
    """A torchvision ResNet with the CIFAR stem (3x3 stride-1 conv1, no max-pool), as in the paper."""
    import torchvision

    if name not in _TV_RESNETS:
        raise ConfigError(f"unknown torchvision resnet {name!r}; valid: {', '.join(_TV_RESNETS)}")
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def cifar_resnet18(num_classes: int = 10) -> nn.Module:
    """torchvision ResNet-18 with the CIFAR stem (~11.2M parameters), the paper's CIFAR model."""
    return cifar_torchvision_resnet("resnet18", num_classes)


_CIFAR_ONLY = {"resnet20": resnet20, "resnet32": resnet32, "resnet44": resnet44, "resnet56": resnet56}


def model_names() -> list[str]:
    """Names accepted by build_model."""
    return sorted(_CIFAR_ONLY) + list(_TV_RESNETS)


def build_model(arch: str, num_classes: int = 10) -> nn.Module:
    """Build a CIFAR model by name; raise ConfigError listing the valid names otherwise."""
    key = arch.strip().lower().replace("-", "").replace("_", "")
    if key in _CIFAR_ONLY:
        return _CIFAR_ONLY[key](num_classes)
    if key in _TV_RESNETS:
        return cifar_torchvision_resnet(key, num_classes)
    raise ConfigError(f"unknown model {arch!r}; valid: {', '.join(model_names())}")
