"""Tests of repro_lib.data: registry, checksums, atomic download, IDX reader, MNIST loaders."""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from repro_lib.data import (
    REGISTRY,
    ChecksumError,
    DataError,
    DataMissingError,
    DatasetSpec,
    FileSpec,
    fetch,
    fingerprint,
    load_mnist,
    read_idx,
    registry,
    search_dirs,
)
from repro_lib.paths import repo_root

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

needs_mnist = pytest.mark.skipif(
    not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST copy not found at {SHARED_DATA}/mnist",
)
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed at {FASHION_DIR} (apt-get install dataset-fashion-mnist)",
)


@pytest.fixture
def env(isolated_env):
    return isolated_env


def _fake_spec(src: Path, sha256: str, of_content: bool = False) -> DatasetSpec:
    return DatasetSpec(
        name="fake",
        subdir="fake",
        files=(FileSpec(src.name, sha256, src.as_uri(), sha256_of_content=of_content),),
    )


def _idx_bytes(arr: np.ndarray, code: int) -> bytes:
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


# --- real data -------------------------------------------------------------------------------

@needs_mnist
def test_mnist_from_shared_copy(env, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(SHARED_DATA))
    paths = fetch("mnist", download=False)
    assert set(paths) == {f.name for f in REGISTRY["mnist"].files}
    assert all(p.parent == SHARED_DATA / "mnist" for p in paths.values())

    x, y = load_mnist("train", size=28)
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                          5851, 5949]

    xt, yt = load_mnist("test", size=28)
    assert xt.shape == (10000, 1, 28, 28)
    assert torch.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                           1009]

    xs, ys = load_mnist("test", size=32, limit=100)
    assert xs.shape == (100, 1, 32, 32) and ys.shape == (100,)
    assert float(xs.min()) >= 0.0 and float(xs.max()) <= 1.0
    assert torch.equal(ys, yt[:100])
    assert torch.equal(load_mnist("test", size=28, limit=5).x, xt[:5])


@needs_fashion
def test_fashion_mnist_from_debian_package(env):
    paths = fetch("fashion_mnist", download=False)
    assert all(p.parent == FASHION_DIR for p in paths.values())
    x, y = load_mnist("train", dataset="fashion_mnist", size=28)
    assert x.shape == (60000, 1, 28, 28) and y.shape == (60000,)
    assert torch.bincount(y).tolist() == [6000] * 10


def test_load_mnist_rejects_bad_arguments():
    with pytest.raises(ValueError, match="train.*test"):
        load_mnist("valid")
    with pytest.raises(ValueError, match="mnist.*fashion_mnist"):
        load_mnist(dataset="cifar10")
    with pytest.raises(ValueError, match="size"):
        load_mnist(size=0)


# --- locating and checksums ----------------------------------------------------------------

def test_search_dirs_order(env, monkeypatch):
    dirs = search_dirs(REGISTRY["fashion_mnist"])
    assert dirs == [
        env / "repro_data" / "fashion-mnist",
        repo_root() / "data" / "fashion-mnist",  # ./data means the repository's, wherever we run
        env / "cache" / "fashion-mnist",
        FASHION_DIR,
    ]
    monkeypatch.delenv("REPRO_DATA")
    monkeypatch.delenv("REPRO_CACHE_HOME")
    assert search_dirs(REGISTRY["mnist"]) == [
        repo_root() / "data" / "mnist",
        env / "home" / ".cache" / "repro_lib" / "mnist",
    ]


def test_missing_file_offline(env, monkeypatch):
    with pytest.raises(DataMissingError) as info:
        fetch("mnist", download=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg
    assert str(env / "repro_data" / "mnist") in msg
    assert str(env / "cache" / "mnist") in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg
    assert "REPRO_DATA" in msg
    assert isinstance(info.value, DataError) and isinstance(info.value, RuntimeError)

    monkeypatch.setenv("REPRO_OFFLINE", "1")
    with pytest.raises(DataMissingError):
        fetch("mnist")


def test_wrong_checksum_of_stored_file(env):
    bad = env / "repro_data" / "mnist" / "train-images-idx3-ubyte.gz"
    bad.parent.mkdir()
    bad.write_bytes(b"not mnist")
    with pytest.raises(ChecksumError) as info:
        fetch("mnist", download=False)
    msg = str(info.value)
    assert str(bad) in msg
    assert REGISTRY["mnist"].files[0].sha256 in msg
    assert hashlib.sha256(b"not mnist").hexdigest() in msg
    assert "Delete" in msg


def test_wrong_checksum_of_decompressed_content(env):
    folder = env / "repro_data" / "fashion-mnist"
    folder.mkdir()
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(b"not fashion"))
    with pytest.raises(ChecksumError) as info:
        fetch("fashion_mnist", download=False)
    assert hashlib.sha256(b"not fashion").hexdigest() in str(info.value)
    assert REGISTRY["fashion_mnist"].files[0].sha256 in str(info.value)

    bad.write_bytes(b"not gzip at all")
    with pytest.raises(ChecksumError, match="not a valid gzip"):
        fetch("fashion_mnist", download=False)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="known: .*fashion_mnist.*, mnist"):
        fetch("nope")


def test_fingerprint_is_stable_and_depends_on_checksums(monkeypatch):
    fp = fingerprint("mnist")
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fp == fingerprint("mnist") != fingerprint("fashion_mnist")
    spec = REGISTRY["mnist"]
    changed = FileSpec(spec.files[0].name, "0" * 64, spec.files[0].url)
    monkeypatch.setitem(REGISTRY, "mnist", DatasetSpec(spec.name, spec.subdir,
                                                       (changed,) + spec.files[1:]))
    assert fingerprint("mnist") != fp


# --- downloading (file:// URLs, no network) --------------------------------------------------

def test_download_is_atomic_and_cached(env, monkeypatch):
    monkeypatch.delenv("REPRO_DATA")
    src = env / "src" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(b"payload" * 1000)
    spec = _fake_spec(src, hashlib.sha256(src.read_bytes()).hexdigest())
    monkeypatch.setitem(REGISTRY, "fake", spec)

    paths = fetch("fake")
    target = env / "cache" / "fake" / "blob.bin"
    assert paths == {"blob.bin": target}
    assert target.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["blob.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask

    # Found again offline; the verified checksum is cached, so nothing is hashed again.
    src.unlink()
    monkeypatch.setattr(registry, "_compute_digest", lambda *a: pytest.fail("re-hashed"))
    assert fetch("fake", download=False) == {"blob.bin": target}


def test_download_goes_to_repro_data_and_checks_content(env, monkeypatch):
    content = b"decompressed payload"
    src = env / "blob.gz"
    src.write_bytes(gzip.compress(content))
    spec = _fake_spec(src, hashlib.sha256(content).hexdigest(), of_content=True)
    monkeypatch.setitem(REGISTRY, "fake", spec)
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    with pytest.raises(DataMissingError, match="downloading is off"):
        fetch("fake")
    assert fetch("fake", download=True) == {"blob.gz": env / "repro_data" / "fake" / "blob.gz"}


def test_download_with_wrong_checksum_leaves_nothing(env, monkeypatch):
    monkeypatch.delenv("REPRO_DATA")
    src = env / "blob.bin"
    src.write_bytes(b"tampered")
    monkeypatch.setitem(REGISTRY, "fake", _fake_spec(src, "f" * 64))
    with pytest.raises(ChecksumError) as info:
        fetch("fake", download=True)
    assert "f" * 64 in str(info.value)
    assert hashlib.sha256(b"tampered").hexdigest() in str(info.value)
    assert list((env / "cache" / "fake").iterdir()) == []


def test_failed_download_is_data_missing(env, monkeypatch):
    monkeypatch.delenv("REPRO_DATA")
    src = env / "absent.bin"
    monkeypatch.setitem(REGISTRY, "fake", _fake_spec(src, "0" * 64))
    with pytest.raises(DataMissingError, match="failed") as info:
        fetch("fake", download=True)
    assert src.as_uri() in str(info.value)
    assert list((env / "cache" / "fake").iterdir()) == []


# --- IDX reader --------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_uint8(tmp_path, compress):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = _idx_bytes(arr, 0x08)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 7  # writable


def test_read_idx_int32_is_native_order(tmp_path):
    arr = np.array([1, -2, 70000], dtype=np.int32)
    path = tmp_path / "b.idx"
    path.write_bytes(_idx_bytes(arr, 0x0C))
    out = read_idx(path)
    assert out.dtype == np.dtype("=i4")
    np.testing.assert_array_equal(out, arr)


def test_read_idx_errors(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match="magic number 0x12340801"):
        read_idx(path)
    path.write_bytes(_idx_bytes(np.zeros((2, 2), np.uint8), 0x08)[:-1])
    with pytest.raises(ValueError, match="size mismatch"):
        read_idx(path)
