"""The book's data: a registry of checksummed files and loaders built on it."""
from .celeba import load_celeba
from .idx import read_idx
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

__all__ = [
    "REGISTRY",
    "ChecksumError",
    "DataError",
    "DataMissingError",
    "DatasetSpec",
    "FileSpec",
    "fetch",
    "fingerprint",
    "load_celeba",
    "load_mnist",
    "read_idx",
    "search_dirs",
]
