"""The dSprites-like generator (repro_lib.data.dsprites): shapes, ranges, seeds, factor effects."""
from __future__ import annotations

import numpy as np
import pytest

from repro_lib.parts.influential_factors.dsprites import DSpritesLike

DATA = DSpritesLike()
BASE = np.array([[2, 3, 5, 10, 20]])          # heart, mid scale, unsymmetric angle, off-centre


def test_metadata_matches_dsprites():
    assert DATA.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert DATA.factor_sizes == (3, 6, 40, 32, 32)
    assert [len(v) for v in DATA.factor_values] == list(DATA.factor_sizes)
    assert DATA.factor_values[1][[0, -1]].tolist() == [0.5, 1.0]
    assert DATA.factor_values[2][[0, -1]].tolist() == [0.0, 2 * np.pi]


def test_make_dataset_shapes_dtypes_and_binary_values():
    images, factors = DATA.make_dataset(500, seed=3)
    assert images.shape == (500, 1, 64, 64) and images.dtype == np.float32
    assert factors.shape == (500, 5) and factors.dtype == np.int64
    assert set(np.unique(images)) == {0.0, 1.0}
    assert (images.sum(axis=(1, 2, 3)) > 0).all()
    np.testing.assert_array_equal(images, DATA.observations_from_factors(factors))


def test_sample_factors_cover_each_range():
    factors = DATA.sample_factors(20000, np.random.default_rng(0))
    for k, size in enumerate(DATA.factor_sizes):
        assert factors[:, k].min() == 0 and factors[:, k].max() == size - 1
        assert len(np.unique(factors[:, k])) == size


def test_deterministic_under_seed_and_different_across_seeds():
    a_img, a_fac = DATA.make_dataset(64, seed=7)
    b_img, b_fac = DATA.make_dataset(64, seed=7)
    c_img, c_fac = DATA.make_dataset(64, seed=8)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_fac, b_fac)
    assert not np.array_equal(a_fac, c_fac)


@pytest.mark.parametrize("k", range(5))
def test_each_factor_changes_the_image(k):
    other = BASE.copy()
    other[0, k] = (other[0, k] + 1) % DATA.factor_sizes[k]
    a, b = DATA.observations_from_factors(np.concatenate([BASE, other]))
    assert (a != b).any()


def test_position_moves_the_sprite_by_one_pixel_per_step():
    a, right, down = DATA.observations_from_factors(
        np.array([BASE[0], BASE[0] + [0, 0, 0, 1, 0], BASE[0] + [0, 0, 0, 0, 1]]))[:, 0]
    np.testing.assert_array_equal(np.roll(a, 1, axis=1), right)
    np.testing.assert_array_equal(np.roll(a, 1, axis=0), down)


def test_scale_grows_area_and_sprites_stay_inside_the_canvas():
    grid = np.array([[s, c, o, 0, 0] for s in range(3) for o in range(40) for c in range(6)])
    areas = DATA.observations_from_factors(grid).sum(axis=(1, 2, 3)).reshape(3, 40, 6)
    assert (np.diff(areas, axis=2) >= 0).all()
    ties = {(s, o, c) for s, o, c in zip(*np.nonzero(np.diff(areas, axis=2) == 0))}
    assert ties == {(0, 0, 1), (0, 39, 1)}     # the documented axis-aligned square, scales 0.6/0.7
    corners = np.array([[s, 5, o, x, y] for s in range(3) for o in range(0, 40, 3)
                        for x in (0, 31) for y in (0, 31)])
    images = DATA.observations_from_factors(corners)[:, 0]
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
    assert border.sum() == 0          # a full-size sprite at an extreme position is not clipped


def test_bad_factors_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        DATA.observations_from_factors(np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="pos_x"):
        DATA.observations_from_factors(np.array([[0, 0, 0, 32, 0]]))
    with pytest.raises(ValueError, match="integer"):
        DATA.observations_from_factors(np.array([[0, 0.5, 0, 0, 0]]))
