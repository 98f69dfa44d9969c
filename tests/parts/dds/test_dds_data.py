"""The CIFAR loaders behind the DDS part: the registered subset (checksummed, README's known
labels), `auto` falling back to it, and the binary-release reader on archives built here."""
import io
import tarfile

import numpy as np
import pytest
import torch

from repro_lib.data import Tensors, cifar, load_cifar10, registry


@pytest.fixture
def subset():
    """Skip unless the registered subset is in a search folder (tests set REPRO_DATA first)."""
    try:
        registry.fetch("cifar10_subset", download=False)
    except registry.DataMissingError:
        pytest.skip("the CIFAR-10 subset is not here")


def test_subset_splits_shapes_and_known_labels(subset):
    train = load_cifar10("train", source="subset")
    test = load_cifar10("test", limit=10, source="subset")
    assert isinstance(train, Tensors) and train.x.shape == (5000, 3, 32, 32) and train.x.dtype == torch.float32
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    # ../shared/data/README.md: the first ten training and test labels of CIFAR-10
    assert train.tensors[1][:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert test.tensors[1].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert len(load_cifar10("test", source="subset")) == 1000  # only the lossless test images
    assert train.data_id.startswith("cifar10_subset:") and train.data_id.endswith(":train[:]")
    assert test.data_id.endswith(":test[:10]")
    counts = np.bincount(train.tensors[1].numpy(), minlength=10)
    assert counts.tolist() == [505, 460, 519, 486, 519, 488, 519, 486, 520, 498]  # README's counts


def test_auto_reads_the_subset_without_the_full_archive(subset, monkeypatch):
    monkeypatch.setattr(cifar, "full_cifar10_present", lambda: False)
    assert cifar.cifar10_source("auto") == "subset"
    assert load_cifar10("test", limit=3, source="auto").data_id.startswith("cifar10_subset:")
    monkeypatch.setattr(cifar, "full_cifar10_present", lambda: True)
    assert cifar.cifar10_source("auto") == "full"


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match="split must be one of"):
        load_cifar10("valid")
    with pytest.raises(ValueError, match="source must be one of"):
        load_cifar10("train", source="mirror")
    with pytest.raises(ValueError, match="limit must be"):
        load_cifar10("train", limit=-1)


def _record(label: bytes, image_hwc: np.ndarray) -> bytes:
    """One binary record the way CIFAR writes it: labels, then the R, G, B planes row-major."""
    return label + image_hwc.transpose(2, 0, 1).tobytes()


def test_binary_records_follow_cifars_layout():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    data = b"".join(_record(bytes([k]), img) for k, img in enumerate(images))
    x, y = cifar.read_binary_records(data, 1)
    assert np.array_equal(x, images) and y[:, 0].tolist() == [0, 1, 2]
    # README: pixel [r, c, ch] is byte ch*1024 + r*32 + c of the image part of the record
    r, c, ch = 5, 17, 2
    assert x[1, r, c, ch] == data[3073 + 1 + ch * 1024 + r * 32 + c]
    x2, y2 = cifar.read_binary_records(bytes([4, 19]) + images[0].transpose(2, 0, 1).tobytes(), 2)
    assert y2.tolist() == [[4, 19]] and np.array_equal(x2[0], images[0])
    with pytest.raises(ValueError, match="whole number"):
        cifar.read_binary_records(data[:-1], 1)


def _archive(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_binary_archive_reads_members_in_order(tmp_path):
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8) for n in (2, 3))
    path = tmp_path / "cifar-10-binary.tar.gz"
    _archive(path, {"cifar-10-batches-bin/data_batch_1.bin": b"".join(_record(b"\x07", i) for i in a),
                    "cifar-10-batches-bin/data_batch_2.bin": b"".join(_record(b"\x02", i) for i in b)})
    x, y = cifar.read_binary_archive(path, ["cifar-10-batches-bin/data_batch_1.bin",
                                            "cifar-10-batches-bin/data_batch_2.bin"], 1)
    assert np.array_equal(x, np.concatenate([a, b])) and y[:, 0].tolist() == [7, 7, 2, 2, 2]
    with pytest.raises(registry.DataMissingError, match="holds no file"):
        cifar.read_binary_archive(path, ["cifar-10-batches-bin/test_batch.bin"], 1)


def test_the_subset_round_trips_through_the_binary_reader(subset):
    """The first training images, written as CIFAR's records and read back, equal the loader's."""
    train = load_cifar10("train", limit=20, source="subset")
    hwc = (train.x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    data = b"".join(_record(bytes([int(k)]), img) for k, img in zip(train.tensors[1], hwc))
    x, y = cifar.read_binary_records(data, 1)
    assert np.array_equal(x, hwc) and np.array_equal(y[:, 0], train.tensors[1].numpy())


def test_full_cifar_is_registered_by_its_canonical_address():
    for name, file in (("cifar10", "cifar-10-binary.tar.gz"), ("cifar100", "cifar-100-binary.tar.gz")):
        spec = registry.get_spec(name)
        assert spec.files[0].name == file and spec.files[0].url == f"https://www.cs.toronto.edu/~kriz/{file}"
        assert len(spec.files[0].sha256) == 64
