"""A dSprites-like data set with known factors, drawn here (no download): 64x64 binary sprites.

Factors, as indices (dSprites' ``latents_classes``), in this order:

==============  =====  =====================================================================
name            size   value of index i (``factor_values``)
==============  =====  =====================================================================
shape           3      0 square, 1 ellipse, 2 heart
scale           6      linspace(0.5, 1, 6): circumradius 11 * scale pixels
orientation     40     linspace(0, 2 pi, 40) radians, counter-clockwise; as in dSprites the
                       first and last are the same rotation, and the square (pi/2) and
                       ellipse (pi) have rotational symmetries
pos_x           32     linspace(0, 1, 32): centre at column 16 + i (pixel-edge coordinates)
pos_y           32     linspace(0, 1, 32): centre at row 16 + i, top to bottom
==============  =====  =====================================================================

Each of the 720 (shape, scale, orientation) sprites is rasterised once on a 24x24 patch (a
pixel is on when its centre lies inside the shape's implicit region) and pasted at integer
positions, so moving one position step moves the sprite by exactly one pixel. Pixel
quantisation makes a few neighbouring factor values draw the same image: the axis-aligned square
(orientation 0 or 2 pi) is 10x10 pixels at scales 0.6 and 0.7, and some adjacent orientations of
small squares coincide.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["DSpritesLike"]

_PATCH = 24          # sprite patch side (pixels); the shape's centre is the patch's centre
_RADIUS = 11.0       # circumradius at scale 1 (pixels), < _PATCH / 2
_OFFSET = 4          # patch of position index i starts at pixel 4 + i: centres 16..47


@lru_cache(maxsize=1)
def _sprites() -> np.ndarray:
    """Read-only bool (3, 6, 40, 24, 24): every (shape, scale, orientation) sprite."""
    centres = np.arange(_PATCH) + 0.5 - _PATCH / 2
    dx = centres[None, :]                      # right
    dy = -centres[:, None]                     # up
    scales = DSpritesLike.factor_values[1][:, None, None, None]
    angles = DSpritesLike.factor_values[2][None, :, None, None]
    cos, sin = np.cos(angles), np.sin(angles)
    # Coordinates in the shape's own frame, its circumradius being 1.
    u = (dx * cos + dy * sin) / (_RADIUS * scales)
    v = (-dx * sin + dy * cos) / (_RADIUS * scales)
    square = np.maximum(np.abs(u), np.abs(v)) <= 0.7
    ellipse = u ** 2 + (v / 0.5) ** 2 <= 1.0
    hx, hy = 1.3 * u, 1.3 * v + 0.2           # heart (x^2 + y^2 - 1)^3 <= x^2 y^3, within radius 0.99
    heart = (hx ** 2 + hy ** 2 - 1) ** 3 - hx ** 2 * hy ** 3 <= 0
    sprites = np.stack([square, ellipse, heart])
    sprites.flags.writeable = False
    return sprites


class DSpritesLike:
    """dSprites-like ground-truth data: factors -> 64x64 binary images (see the module doc)."""

    factor_names = ("shape", "scale", "orientation", "pos_x", "pos_y")
    factor_sizes = (3, 6, 40, 32, 32)
    factor_values = (
        np.arange(3),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )
    image_size = 64

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    def sample_factors(self, n: int, rng) -> np.ndarray:
        """(n, 5) int64 factor indices, each uniform over its range; ``rng`` a numpy Generator or seed."""
        return np.random.default_rng(rng).integers(0, self.factor_sizes, size=(n, self.num_factors))

    def observations_from_factors(self, factors) -> np.ndarray:
        """Float32 images (n, 1, 64, 64) with values in {0, 1} from (n, 5) factor indices."""
        f = np.asarray(factors)
        if f.ndim != 2 or f.shape[1] != self.num_factors:
            raise ValueError(f"factors must have shape (n, {self.num_factors}) "
                             f"({', '.join(self.factor_names)}); got {f.shape}.")
        if f.size and not np.array_equal(f, np.rint(f)):
            raise ValueError("factors must be integer indices (see factor_values for what they mean).")
        f = f.astype(np.int64)
        out_of_range = (f < 0) | (f >= np.array(self.factor_sizes))
        if out_of_range.any():
            bad = sorted({self.factor_names[k] for k in np.nonzero(out_of_range)[1]})
            raise ValueError(f"factor indices out of range for {bad}; sizes are {self.factor_sizes}.")
        n = len(f)
        images = np.zeros((n, self.image_size, self.image_size), dtype=np.float32)
        offsets = np.arange(_PATCH)
        rows = (_OFFSET + f[:, 4])[:, None, None] + offsets[None, :, None]
        cols = (_OFFSET + f[:, 3])[:, None, None] + offsets[None, None, :]
        images[np.arange(n)[:, None, None], rows, cols] = _sprites()[f[:, 0], f[:, 1], f[:, 2]]
        return images[:, None]

    def make_dataset(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random images (n, 1, 64, 64) float32 and their factor indices (n, 5) int64."""
        factors = self.sample_factors(n, np.random.default_rng(seed))
        return self.observations_from_factors(factors), factors
