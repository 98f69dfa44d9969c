"""Influential-factors part (document 002): the recipe helpers that turn figures into numbers."""
import numpy as np
import pytest
import torch
import yaml

from repro_lib.parts.influential_factors import recipes as inf
from repro_lib.paths import repo_root


def test_age_bins_by_decade():
    assert inf.age_bins([21, 29, 30, 45, 59, 60, 79]).tolist() == [0, 0, 1, 2, 3, 4, 4]


def test_plateau_then_drop_detects_a_temporary_plateau_only():
    falling = 100 * 0.9 ** np.arange(30)
    plateau = np.concatenate([np.linspace(100, 60, 8), np.full(8, 60.0), np.linspace(60, 30, 10)])
    flat_end = np.concatenate([np.linspace(100, 60, 10), np.full(15, 60.0)])
    assert not inf.plateau_then_drop(falling)
    assert inf.plateau_then_drop(plateau)
    assert not inf.plateau_then_drop(flat_end)


def test_plateau_then_drop_needs_eleven_epochs_the_gate_of_its_claim():
    """Two 5-epoch windows, the second after the first: with 10 epochs no curve can pass, which is
    why the claim's gate `table_33_long_enough` asks for 11."""
    steps = np.array([100, 99.9, 99.8, 99.7, 99.6, 99.5, 50, 40, 30, 20, 10.0])
    assert inf.plateau_then_drop(steps)
    assert not inf.plateau_then_drop(steps[:10] * 1.0) and not inf.plateau_then_drop(np.r_[steps[:6], steps[7:]])
    gates = {g["id"]: g for g in yaml.safe_load((repo_root() / "book" / "influential_factors" / "claims.yaml")
                                                .read_text())["gates"]}
    assert gates["table_33_long_enough"]["check"] == {">=": 11}


def test_loss_per_epoch_means_whole_epochs():
    history = {"loss": [1, 3, 5, 7, 9, 11, 13]}  # 3 steps per epoch, one leftover step
    assert inf.loss_per_epoch(history, n=30, batch_size=10).tolist() == [3.0, 9.0]


def test_decreasing_share():
    assert inf.decreasing_share({"loss": list(range(100, 0, -1))}) == 1.0
    assert inf.decreasing_share({"loss": [5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1]}, segments=2) == 0.0
    assert np.isnan(inf.decreasing_share({"loss": [1.0]}))


def test_linear_r2():
    x = np.linspace(-1, 1, 21)
    assert inf.linear_r2(x, 3 * x + 1) == pytest.approx(1.0)
    assert inf.linear_r2(x, np.full_like(x, 0.5)) == 1.0
    assert inf.linear_r2(x, x ** 2) == pytest.approx(0.0, abs=1e-12)


def test_border_brightness_reads_the_frame_only():
    img = torch.zeros(2, 3, 64, 64)
    img[0, :, :6] = 1.0           # top band of the frame is white
    img[1, :, 20:40, 20:40] = 1.0  # centre only
    got = inf.border_brightness(img)
    frame_pixels = 64 * 64 - 52 * 52
    assert got[0] == pytest.approx(6 * 64 / frame_pixels)
    assert got[1] == 0.0


def test_across_image_variance():
    same = torch.ones(5, 1, 4, 4)
    assert inf.across_image_variance(same) == 0.0
    two = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
    assert inf.across_image_variance(two) == pytest.approx(0.5)


def test_table_scores_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown scores"):
        inf.table_scores(None, None, None, which=("MIG", "DCI"))
