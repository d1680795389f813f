"""Datasets: CIFAR-10/100 (torchvision format, ImageFolder, tar) and ImageNet val splits."""

from wsbench.data.cifar import default_cifar_path, load_cifar, paper_split, to_float
from wsbench.data.imagenet import decode_images, imagenet_split, load_imagenet_folder

__all__ = ["decode_images", "default_cifar_path", "imagenet_split", "load_cifar",
           "load_imagenet_folder", "paper_split", "to_float"]
