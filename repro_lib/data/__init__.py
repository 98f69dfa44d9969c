"""The book's data: a registry of checksummed files and loaders built on it."""
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
    "load_mnist",
    "read_idx",
    "search_dirs",
]
