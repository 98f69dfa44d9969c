"""Tiny-ImageNet and the ImageNet subsets: md5-checked registry files, the login-only archive,
and both readers on small archives built here in the real layouts."""
import hashlib
import io
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from repro_lib.data import imagenet, registry
from repro_lib.data.registry import REGISTRY, ChecksumError, DataMissingError, DatasetSpec, FileSpec, fetch


@pytest.fixture
def env(isolated_env):
    return isolated_env


def _jpeg(colour, size=(64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG", quality=100)
    return buf.getvalue()


def test_filespec_takes_exactly_one_checksum():
    with pytest.raises(ValueError, match="exactly one"):
        FileSpec("a", "", "file:///a")
    with pytest.raises(ValueError, match="exactly one"):
        FileSpec("a", "0" * 64, "file:///a", md5="0" * 32)
    assert FileSpec("a", "", "file:///a", md5="ab").algorithm == "md5"


def test_md5_file_is_verified(env, monkeypatch):
    src = env / "blob.zip"
    src.write_bytes(b"tiny")
    good = hashlib.md5(b"tiny").hexdigest()
    def spec(name, md5):
        return DatasetSpec(name, name, (FileSpec("blob.zip", "", src.as_uri(), md5=md5),))

    monkeypatch.setitem(REGISTRY, "fake", spec("fake", good))
    assert fetch("fake", download=True)["blob.zip"].read_bytes() == b"tiny"
    monkeypatch.setitem(REGISTRY, "bad", spec("bad", "0" * 32))
    with pytest.raises(ChecksumError, match="md5"):
        fetch("bad", download=True)


def test_registered_checksums_are_the_published_ones():
    assert REGISTRY["tiny_imagenet"].files[0].md5 == "90528d7ca1a48142e341f4ef8d21d0de"
    assert REGISTRY["imagenet10"].files[0].md5 == "1d675b47d978889d74fa0da5fadfb00e"
    assert registry.fingerprint("imagenet10") != registry.fingerprint("imagenet_dogs")


def test_login_only_archive_is_never_downloaded(env, monkeypatch):
    monkeypatch.setattr(registry, "_download", lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(DataMissingError, match="registered users") as info:
        fetch("imagenet10", download=True)
    assert "ILSVRC2012_img_train.tar" in str(info.value)
    assert not imagenet.present("imagenet_dogs")
    assert not imagenet.present("tiny_imagenet")


def test_subset_class_lists():
    assert len(imagenet.IMAGENET10_WNIDS) == len(set(imagenet.IMAGENET10_WNIDS)) == 10
    assert len(imagenet.IMAGENET_DOGS_WNIDS) == len(set(imagenet.IMAGENET_DOGS_WNIDS)) == 15
    # ImageNet's dog synsets run from n02085620 (Chihuahua) to n02113978 (Mexican hairless).
    assert all("n02085620" <= w <= "n02113978" for w in imagenet.IMAGENET_DOGS_WNIDS)


def test_read_tiny_imagenet(tmp_path):
    path = tmp_path / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tiny-imagenet-200/wnids.txt", "n002\nn001\n")
        zf.writestr("tiny-imagenet-200/train/n001/images/n001_0.JPEG", _jpeg((250, 0, 0)))
        zf.writestr("tiny-imagenet-200/train/n002/images/n002_0.JPEG", _jpeg((0, 0, 250)))
        zf.writestr("tiny-imagenet-200/train/n002/n002_boxes.txt", "ignored")
        zf.writestr("tiny-imagenet-200/val/images/val_0.JPEG", _jpeg((0, 250, 0)))
        zf.writestr("tiny-imagenet-200/val/val_annotations.txt", "val_0.JPEG\tn001\t0\t0\t63\t63\n")
    train = imagenet.read_tiny_imagenet(path, "train")
    x, y = train
    assert x.shape == (2, 3, 64, 64) and y.tolist() == [1, 0]  # labels follow wnids.txt
    assert x[0, 0].mean() > 0.9 and x[0, 2].mean() < 0.1  # the red image first (name order)
    vx, vy = imagenet.read_tiny_imagenet(path, "val")
    assert vy.tolist() == [1] and vx[0, 1].mean() > 0.9
    assert len(imagenet.read_tiny_imagenet(path, "train", limit=1)) == 1
    with pytest.raises(ValueError, match="split"):
        imagenet.read_tiny_imagenet(path, "test")


def _class_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_read_imagenet_subset(tmp_path):
    path = tmp_path / "ILSVRC2012_img_train.tar"
    classes = {w: _class_tar({f"{w}_{i}.JPEG": _jpeg((20 * k, 0, 0), (80, 60)) for i in range(3)})
               for k, w in enumerate(imagenet.IMAGENET10_WNIDS)}
    classes["n09999999"] = _class_tar({"n09999999_0.JPEG": _jpeg((0, 0, 0))})  # not in the subset
    path.write_bytes(_class_tar({f"{w}.tar": data for w, data in classes.items()}))
    x, y = imagenet.read_imagenet_subset(path, "imagenet10", size=32, per_class=2)
    assert x.shape == (20, 3, 32, 32)
    assert np.bincount(y.numpy()).tolist() == [2] * 10
    assert x[y == 9, 0].mean() > x[y == 1, 0].mean()  # class order kept
    with pytest.raises(registry.DataError, match="lacks the class archives"):
        imagenet.read_imagenet_subset(path, "imagenet_dogs")
    with pytest.raises(ValueError, match="name must be"):
        imagenet.read_imagenet_subset(path, "imagenet100")
