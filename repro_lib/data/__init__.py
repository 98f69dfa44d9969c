"""The book's data: a registry of checksummed files and loaders built on it."""
from .celeba import celeba_data_id, celeba_source, find_full_celeba, load_celeba
from .cifar import cifar10_source, load_cifar10, load_cifar100
from .idx import read_idx
from .imagenet import load_imagenet_subset, load_tiny_imagenet
from .mnist import load_mnist
from .registry import (
    REGISTRY,
    ChecksumError,
    DataError,
    DataMissingError,
    DatasetSpec,
    FileSpec,
    fetch,
    fingerprint,
    search_dirs,
)
from .tensors import Tensors

__all__ = [
    "REGISTRY",
    "Tensors",
    "ChecksumError",
    "DataError",
    "DataMissingError",
    "DatasetSpec",
    "FileSpec",
    "celeba_data_id",
    "celeba_source",
    "cifar10_source",
    "fetch",
    "find_full_celeba",
    "fingerprint",
    "load_celeba",
    "load_cifar10",
    "load_cifar100",
    "load_imagenet_subset",
    "load_tiny_imagenet",
    "load_mnist",
    "read_idx",
    "search_dirs",
]
