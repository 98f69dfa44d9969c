"""The authors' artefacts through the registry: checksummed files, zip members, and a pickle
loader that refuses anything but numpy arrays."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from repro_lib.data import registry
from repro_lib.data.safe_pickle import UnsafePickleError, load_numpy_pickle


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps([[np.zeros((2, 2), np.uint8), 0.5], _Exploit(marker)])
    with pytest.raises(UnsafePickleError, match="system"):
        load_numpy_pickle(blob)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_numpy_pickle(pickle.dumps(eval))


def test_numpy_arrays_and_plain_values_load():
    state = (np.arange(400) % 2).astype(np.uint8).reshape(20, 20)
    loaded = load_numpy_pickle(pickle.dumps([[state, 0.54], {"k": (1, "a")}]))
    assert np.array_equal(loaded[0][0], state) and loaded[0][0].dtype == np.uint8
    assert loaded[0][1] == 0.54 and loaded[1] == {"k": (1, "a")}


def test_the_artefacts_are_registered_with_their_checksums():
    checkpoints = registry.get_spec("attribution_priors_checkpoints").files
    assert len(checkpoints) == 42
    names = {f.name for f in checkpoints}
    assert "vae/Beta-vae_beta1_run1.pt" in names and "pearson_vae/Pearson-vae_alpha10_run5.pt" in names
    assert all(f.url.endswith(f.name) and "85588ae61020cf90af68b9b14f1b1d23a86062b1" in f.url
               for f in checkpoints)
    fire = {f.name: f for f in registry.get_spec("firebreaks_cell2fire").files}
    pkl = fire["Sub20x20_full_grid.pkl"]
    assert pkl.sha256 == "24df4aa096ea2e8f0fd3af8e91f7746feab3f837889f46969a8111f883ef2e18"
    assert pkl.archive_member == "homo_2/Sub20x20_full_grid.pkl" and pkl.url.endswith("homo_2.zip")
    assert len([n for n in fire if n.startswith("Sub20x20/Weathers/")]) == 360


def _member_spec(tmp_path, content: bytes, member="homo_2/a/b.csv", sha=None):
    archive = tmp_path / "src.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(member, content)
        zf.writestr("homo_2/other.txt", b"x")
    import hashlib
    return registry.FileSpec("a/b.csv", sha or hashlib.sha256(content).hexdigest(),
                             archive.as_uri(), archive_member=member)


def test_a_zip_member_is_downloaded_extracted_and_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE_HOME", str(tmp_path / "cache"))
    spec = _member_spec(tmp_path, b"x,y\n1,2\n")
    archives = {}
    path = registry._download(spec, tmp_path / "data", archives)
    assert path == tmp_path / "data" / "a" / "b.csv" and path.read_bytes() == b"x,y\n1,2\n"
    assert list(archives) == [spec.url]  # one archive download serves every member


def test_a_zip_member_with_the_wrong_checksum_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE_HOME", str(tmp_path / "cache"))
    spec = _member_spec(tmp_path, b"tampered", sha="0" * 64)
    with pytest.raises(registry.ChecksumError, match="does not match"):
        registry._download(spec, tmp_path / "data", {})
    assert not any(p.is_file() for p in (tmp_path / "data").rglob("*"))
    missing = _member_spec(tmp_path, b"x", member="homo_2/elsewhere.csv")
    missing = registry.FileSpec(missing.name, missing.sha256, missing.url, archive_member="homo_2/nope.csv")
    with pytest.raises(registry.ChecksumError, match="does not hold homo_2/nope.csv"):
        registry._download(missing, tmp_path / "data", {})
