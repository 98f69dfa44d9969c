"""The batched augmentations of the clustering chapter (repro_lib/parts/dds/augment.py) against
hand-made cases, numpy and colorsys."""
import colorsys

import numpy as np
import pytest
import torch

from repro_lib.parts.dds import augment as A


def _images(n=6, seed=0, size=32):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_views_are_seeded_deterministic_and_keep_shape_and_range():
    x = _images(16)
    a, b = A.Augment()(x, _gen(3)), A.Augment()(x, _gen(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, A.Augment()(x, _gen(4)))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # two draws from one generator differ (the two views of ProPos)
    g = _gen(5)
    assert not torch.equal(A.Augment()(x, g), A.Augment()(x, g))


def test_flip_is_an_exact_left_right_mirror_where_it_flips():
    x = _images(64)
    y = A.horizontal_flip(x, _gen(1), p=0.5)
    flipped = torch.tensor([torch.equal(y[i], x[i].flip(-1)) for i in range(len(x))])
    kept = torch.tensor([torch.equal(y[i], x[i]) for i in range(len(x))])
    assert bool((flipped ^ kept).all())
    assert 10 < int(flipped.sum()) < 54
    assert torch.equal(A.horizontal_flip(x, _gen(1), p=1.0), x.flip(-1))
    assert torch.equal(A.horizontal_flip(x, _gen(1), p=0.0), x)
    assert torch.equal(y[..., 0], torch.where(flipped[:, None, None], x[..., -1], x[..., 0]))


def test_grayscale_uses_the_itu_601_weights():
    x = _images(4)
    gray = A.random_grayscale(x, _gen(0), p=1.0)
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    for c in range(3):
        assert torch.allclose(gray[:, c], expected, atol=1e-6)
    assert torch.equal(A.random_grayscale(x, _gen(0), p=0.0), x)
    # a pure red pixel is 0.299
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1
    assert torch.allclose(A.grayscale(red), torch.full((1, 1, 2, 2), 0.299))


def test_crop_of_the_full_box_is_the_identity():
    x = _images(3)
    boxes = torch.tensor([[0, 0, 32, 32]] * 3)
    assert torch.allclose(A.crop_resize(x, boxes), x, atol=1e-5)


def test_crop_takes_the_box_it_is_given():
    # a 2x2 box at (top 4, left 6) of a 8x8 image enlarged 4x: nearest-centre pixels hold the box's values
    x = torch.arange(3 * 64, dtype=torch.float32).view(1, 3, 8, 8) / 200
    out = A.crop_resize(x, torch.tensor([[4, 6, 2, 2]]))
    # output pixel (1, 1) sits at input (4 + 2*1.5/8 - 0.5, ...) = (4.375 - 0.5 + ...) by the
    # align_corners=False rule: x_in = left + w (o + 0.5) / W_out - 0.5
    o = np.arange(8)
    coords = 6 + 2 * (o + 0.5) / 8 - 0.5
    rows = 4 + 2 * (o + 0.5) / 8 - 0.5
    ref = np.empty((3, 8, 8))
    img = x[0].numpy()
    for c in range(3):
        for i, r in enumerate(rows):
            for j, q in enumerate(coords):
                r0, q0 = int(np.clip(np.floor(r), 0, 7)), int(np.clip(np.floor(q), 0, 7))
                r1, q1 = min(r0 + 1, 7), min(q0 + 1, 7)
                fr, fq = np.clip(r - r0, 0, 1), np.clip(q - q0, 0, 1)
                ref[c, i, j] = ((1 - fr) * (1 - fq) * img[c, r0, q0] + (1 - fr) * fq * img[c, r0, q1]
                                + fr * (1 - fq) * img[c, r1, q0] + fr * fq * img[c, r1, q1])
    assert np.allclose(out[0].numpy(), ref, atol=1e-5)


def test_crop_boxes_lie_inside_the_image_with_areas_in_scale():
    boxes = A.crop_boxes(2000, 32, 32, _gen(0))
    top, left, h, w = boxes.T
    assert bool(((top >= 0) & (left >= 0) & (top + h <= 32) & (left + w <= 32) & (h >= 1) & (w >= 1)).all())
    share = (h * w).double() / 1024
    assert float(share.min()) > 0.05 and float(share.max()) <= 1.0
    assert 0.45 < float(share.mean()) < 0.6  # E[U(0.08, 1)] = 0.54, a little less after clamping


def test_hsv_round_trip_and_against_colorsys():
    x = _images(2, size=4)
    hsv = A.rgb_to_hsv(x)
    assert torch.allclose(A.hsv_to_rgb(hsv), x, atol=1e-5)
    for (b, i, j) in [(0, 0, 0), (1, 2, 3), (0, 3, 1)]:
        r, g, bl = x[b, :, i, j].tolist()
        assert np.allclose(hsv[b, :, i, j].numpy(), colorsys.rgb_to_hsv(r, g, bl), atol=1e-5)


def test_colour_jitter_with_zero_strength_is_the_identity_and_p_zero_too():
    x = _images(5)
    assert torch.allclose(A.color_jitter(x, _gen(0), 0.0, 0.0, 0.0, 0.0, p=1.0), x, atol=1e-6)
    assert torch.equal(A.color_jitter(x, _gen(0), p=0.0), x)
    y = A.color_jitter(x, _gen(0), p=1.0)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert not torch.allclose(y, x)


def test_brightness_alone_scales_the_image():
    x = _images(8) * 0.5  # below 1 / 1.4, so no clipping
    g = _gen(2)
    y = A.color_jitter(x, g, brightness=0.4, contrast=0.0, saturation=0.0, hue=0.0, p=1.0)
    factor = (y / x).flatten(1)
    assert torch.allclose(factor, factor[:, :1].expand_as(factor), atol=1e-4)
    assert bool(((factor[:, 0] >= 0.6 - 1e-6) & (factor[:, 0] <= 1.4 + 1e-6)).all())


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="RGB batches"):
        A.horizontal_flip(torch.rand(3, 32, 32), _gen())
    with pytest.raises(ValueError, match="scale"):
        A.crop_boxes(2, 32, 32, _gen(), scale=(0.0, 1.0))
