"""The credit-default table (registry, parsing, min-max scaling) and the full-CelebA loader on
local files."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from repro_lib.data import (
    REGISTRY,
    ChecksumError,
    DataMissingError,
    celeba_data_id,
    celeba_source,
    fetch,
    find_full_celeba,
    load_celeba,
)
from repro_lib.parts.influential_factors.credit import COLUMNS, FEATURES, TARGET, MinMax, load_credit, read_credit_csv

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CREDIT_CSV = SHARED_DATA / "credit_default" / "UCI_Credit_Card.csv"
SHA256 = "a0f0ab49d6326671d6cd83be5c88dcf18007025fe9a53ecd699119c871176ca1"

needs_credit = pytest.mark.skipif(not CREDIT_CSV.is_file(),
                                  reason=f"credit-default copy not found at {CREDIT_CSV}")


@pytest.fixture
def env(isolated_env, monkeypatch):
    """`isolated_env`, offline; returns its empty REPRO_DATA folder."""
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    return isolated_env / "repro_data"


def _csv(path: Path, header=COLUMNS, rows=((1, *range(23), 0), (2, *range(1, 24), 1))) -> Path:
    lines = [",".join(f'"{c}"' for c in header)] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- the registered file ---------------------------------------------------------------------

def test_registry_entry():
    spec = REGISTRY["credit_default"]
    assert spec.subdir == "credit_default"
    (file,) = spec.files
    assert (file.name, file.sha256) == ("UCI_Credit_Card.csv", SHA256) and not file.sha256_of_content
    assert file.url.startswith("https://") and file.url.endswith("/UCI_Credit_Card.csv")
    assert "Yeh" in spec.citation and "kaggle.com" in spec.citation


@needs_credit
def test_load_credit_from_shared_copy(monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(SHARED_DATA))
    assert fetch("credit_default", download=False) == {"UCI_Credit_Card.csv": CREDIT_CSV}
    features, target, scaler, data_id = load_credit()
    assert list(features.columns) == list(FEATURES) and len(FEATURES) == 23
    assert features.shape == (30000, 23) and (features.dtypes == np.int64).all()
    assert target.name == TARGET and target.dtype == np.int64 and int(target.sum()) == 6636
    # The first row of the file; values written as 5e+05 in it parse as integers.
    assert features.iloc[0].tolist() == [20000, 2, 2, 1, 24, 2, 2, -1, -1, -2, -2, 3913, 3102,
                                         689, 0, 0, 0, 0, 689, 0, 0, 0, 0]
    assert features.loc[6, "LIMIT_BAL"] == 500000
    assert features["LIMIT_BAL"].mean() == pytest.approx(167484.32, abs=0.01)

    scaled = scaler.transform(features)
    assert scaled.shape == (30000, 23) and list(scaled.columns) == list(FEATURES)
    assert (scaled.min() == 0).all() and (scaled.max() == 1).all()
    for values in (scaled, scaled.to_numpy(), torch.tensor(scaled.to_numpy(), dtype=torch.float64)):
        back = scaler.inverse_transform(values)
        assert list(back.columns) == list(FEATURES)
        np.testing.assert_allclose(back.to_numpy(), features.to_numpy(), atol=1e-6)

    small = load_credit(limit=100)
    assert small.features.equals(features.iloc[:100]) and len(small.target) == 100
    assert small.scaler.high[0] == features["LIMIT_BAL"].iloc[:100].max()


def test_missing_file_says_where_to_get_it(env):
    with pytest.raises(DataMissingError) as info:
        load_credit()
    msg = str(info.value)
    assert "UCI_Credit_Card.csv" in msg and str(env / "credit_default") in msg
    assert REGISTRY["credit_default"].files[0].url in msg
    assert "kaggle.com/datasets/uciml/default-of-credit-card-clients-dataset" in msg
    assert "REPRO_DATA" in msg


def test_wrong_checksum(env):
    (env / "credit_default").mkdir()
    bad = _csv(env / "credit_default" / "UCI_Credit_Card.csv")
    with pytest.raises(ChecksumError) as info:
        load_credit()
    assert SHA256 in str(info.value)
    assert hashlib.sha256(bad.read_bytes()).hexdigest() in str(info.value)


# --- parsing and scaling -------------------------------------------------------------------

def test_read_credit_csv_checks_header_and_values(tmp_path):
    features, target = read_credit_csv(_csv(tmp_path / "ok.csv"))
    assert features.shape == (2, 23) and features.iloc[1, 0] == 1 and target.tolist() == [0, 1]

    renamed = ("ID", *(f"X{i}" for i in range(1, 24)), "Y")
    with pytest.raises(ValueError, match="not Kaggle's UCI_Credit_Card.csv header") as info:
        read_credit_csv(_csv(tmp_path / "renamed.csv", header=renamed))
    assert "missing ['LIMIT_BAL'" in str(info.value) and "unexpected ['X1'" in str(info.value)
    swapped = (COLUMNS[0], COLUMNS[2], COLUMNS[1], *COLUMNS[3:])
    with pytest.raises(ValueError, match="another order"):
        read_credit_csv(_csv(tmp_path / "swapped.csv", header=swapped))
    with pytest.raises(ValueError, match=r"non-integer values: \['AGE'\]"):
        read_credit_csv(_csv(tmp_path / "frac.csv", rows=((1, 1, 1, 1, 1, 24.5, *[0] * 18, 0),)))
    with pytest.raises(ValueError, match=r"non-integer values: \['SEX'\]"):
        read_credit_csv(_csv(tmp_path / "blank.csv", rows=((1, 1, "", *[0] * 21, 0),)))
    with pytest.raises(ValueError, match=r"must be 0 or 1, found \[2\]"):
        read_credit_csv(_csv(tmp_path / "target.csv", rows=((1, *range(23), 2),)))


def test_minmax_by_hand():
    frame = pd.DataFrame({"a": [2.0, 4.0, 6.0], "b": [5, 5, 5]})
    scaler = MinMax.fit(frame)
    assert scaler == MinMax(("a", "b"), (2.0, 5.0), (6.0, 5.0))
    out = scaler.transform(frame[["b", "a"]])  # matched by name
    assert out.to_dict("list") == {"a": [0.0, 0.5, 1.0], "b": [0.0, 0.0, 0.0]}
    back = scaler.inverse_transform(np.array([[0.25, 0.0]]))
    assert back.to_dict("list") == {"a": [3.0], "b": [5.0]}
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        scaler.transform(pd.DataFrame({"a": [1.0], "c": [1.0]}))
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        scaler.inverse_transform(np.zeros(2))


# --- full CelebA on local files ------------------------------------------------------------

def _fake_celeba(root: Path, n: int = 3) -> np.ndarray:
    """n 178x218 JPEGs: a centre 178x178 square of one colour per image, red bands above and
    below it (cut by the centre crop); and an official-format attribute file. Returns the
    attributes (n, 40) in {0, 1}."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    colours = [(0, 200, 0), (0, 0, 200), (200, 200, 200)]
    for i in range(n):
        pixels = np.zeros((218, 178, 3), np.uint8)
        pixels[:20] = pixels[198:] = (255, 0, 0)
        pixels[20:198] = colours[i % 3]
        Image.fromarray(pixels).save(folder / "img_align_celeba" / f"{i + 1:06d}.jpg", quality=95,
                                      subsampling=0)
    attributes = np.random.default_rng(0).integers(0, 2, (n, 40))
    names = " ".join(f"Attr_{k}" for k in range(40))
    rows = [f"{i + 1:06d}.jpg " + " ".join("1" if v else "-1" for v in row)
            for i, row in enumerate(attributes)]
    (folder / "list_attr_celeba.txt").write_text("\r\n".join([str(n), names + " ", *rows]) + "\r\n")
    return attributes


def test_full_celeba_from_local_folder(env):
    assert find_full_celeba() is None and celeba_source() == "subset"
    with pytest.raises(DataMissingError, match="(?s)full CelebA not found.*img_align_celeba.zip"):
        load_celeba(source="full")

    attributes = _fake_celeba(env)
    assert find_full_celeba() == env / "celeba"
    assert celeba_source() == "full" and celeba_source("subset") == "subset"
    (x, attrs), names = load_celeba(source="auto")
    assert x.shape == (3, 3, 64, 64) and x.dtype == torch.float32
    assert torch.equal(attrs, torch.from_numpy(attributes))
    assert names[0] == "Attr_0" and len(names) == 40
    # The red bands are cropped away: each face is its single colour, up to JPEG error (which
    # the bands' edge, 20 rows in, raises a little in the outermost rows).
    colours = torch.tensor([[0, 200, 0], [0, 0, 200], [200, 200, 200]]) / 255
    error = (x - colours[:, :, None, None]).abs()
    assert error[:, :, 2:-2].max() < 0.03 and error.max() < 0.15
    (x2, attrs2), _ = load_celeba(size=32, limit=2, source="full")
    assert x2.shape == (2, 3, 32, 32) and torch.equal(attrs2, attrs[:2])
    data_id = celeba_data_id(limit=2)
    assert data_id.startswith("celeba_full:") and data_id.endswith(":2:64px")
    assert celeba_data_id("subset").startswith("celeba_subset:")
    with pytest.raises(ValueError, match="source must be one of"):
        load_celeba(source="celebA")


def test_full_celeba_errors(env):
    _fake_celeba(env, n=2)
    folder = env / "celeba"
    (folder / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataMissingError, match="000002.jpg: listed in"):
        load_celeba(source="full")
    attr = folder / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    attr.write_text("\n".join(["3", *lines[1:]]))
    with pytest.raises(ValueError, match="announces 3 images, 2 rows follow"):
        load_celeba(source="full")
    attr.write_text("\n".join([*lines[:3], lines[3].replace("-1", "0", 1).replace(" 1", " 0", 1)]))
    with pytest.raises(ValueError, match="row 4 is not a file name and 40 values"):
        load_celeba(source="full")
