"""Batched, seeded image augmentations in torch (the SimCLR-style views ProPos trains on).

torchvision has no CPU build here, so ProPos's training transform (Hzzone/ProPos,
`TrainTask.train_transform`) is written out for whole batches of images in [0, 1]:

    RandomResizedCrop(32, scale=(0.08, 1), ratio=(3/4, 4/3)), RandomHorizontalFlip(0.5),
    RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), RandomGrayscale(0.2)

(its normalisation to CIFAR's mean and standard deviation is the first layer of our backbone,
`propos.CifarResNet`, so that DDS masks images in [0, 1] as in Table 5). Every random draw
comes from the `torch.Generator` passed in (on the CPU), so a seed fixes the views exactly,
on any device. Differences from torchvision, all small and stated:

* crop: the area share and log aspect ratio are drawn as torchvision draws them, but a box
  wider or taller than the image is clamped to the image instead of redrawn (torchvision
  retries ten times, then falls back to a centre crop); the crop is resized with bilinear
  interpolation (`grid_sample`, pixel centres as in `F.interpolate(align_corners=False)`),
  without torchvision's antialiasing (a crop is never smaller than the output here, so the
  resize only enlarges);
* colour jitter: brightness, contrast, saturation, hue in this fixed order (torchvision
  shuffles the order per image);
* grayscale: ITU-R 601-2 luma, 0.299 R + 0.587 G + 0.114 B (torchvision's and PIL's weights).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as torchvision.transforms.functional.rgb_to_grayscale


def _check(x: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"augmentations take RGB batches (B, 3, H, W), got shape {tuple(x.shape)}")


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    return (low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)).to(device)


def _coin(n: int, p: float, generator: torch.Generator, device) -> torch.Tensor:
    return (torch.rand(n, generator=generator) < p).to(device)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W): 0.299 R + 0.587 G + 0.114 B."""
    r, g, b = x.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)


def crop_boxes(batch: int, height: int, width: int, generator: torch.Generator,
               scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)
               ) -> torch.Tensor:
    """(B, 4) int64 boxes (top, left, h, w) drawn as torchvision's RandomResizedCrop draws them
    (area share in `scale`, log aspect ratio uniform in log `ratio`), clamped to the image."""
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
    area = height * width * _uniform(batch, scale[0], scale[1], generator, "cpu")
    aspect = torch.exp(_uniform(batch, math.log(ratio[0]), math.log(ratio[1]), generator, "cpu"))
    w = torch.round(torch.sqrt(area * aspect)).clamp(1, width).long()
    h = torch.round(torch.sqrt(area / aspect)).clamp(1, height).long()
    top = (torch.rand(batch, generator=generator, dtype=torch.float64) * (height - h + 1)).floor().long()
    left = (torch.rand(batch, generator=generator, dtype=torch.float64) * (width - w + 1)).floor().long()
    return torch.stack([top, left, h, w], 1)


def crop_resize(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Each image's box (top, left, h, w) resized to `size` (default: the input's H x W) by
    bilinear interpolation at pixel centres; the full box gives the image back."""
    _check(x)
    batch, _, height, width = x.shape
    out_h, out_w = size or (height, width)
    top, left, h, w = (boxes.to(x.device, torch.float64).T)
    theta = torch.zeros(batch, 2, 3, dtype=torch.float64, device=x.device)
    theta[:, 0, 0] = w / width
    theta[:, 0, 2] = (2 * left + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * top + h) / height - 1
    grid = F.affine_grid(theta, [batch, 3, out_h, out_w], align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop(x: torch.Tensor, generator: torch.Generator, scale=(0.08, 1.0),
                        ratio=(3 / 4, 4 / 3)) -> torch.Tensor:
    """RandomResizedCrop to the input's size, one box per image (see `crop_boxes`)."""
    _check(x)
    return crop_resize(x, crop_boxes(len(x), x.shape[2], x.shape[3], generator, scale, ratio))


def horizontal_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Each image mirrored left-right with probability p."""
    _check(x)
    flip = _coin(len(x), p, generator, x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> HSV in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = x.unbind(1)
    high, _ = x.max(1)
    low, _ = x.min(1)
    chroma = high - low
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(high == r, ((g - b) / safe) % 6,
                      torch.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    sat = torch.where(high > 0, chroma / torch.where(high > 0, high, torch.ones_like(high)), torch.zeros_like(high))
    return torch.stack([hue, sat, high], 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_hsv`."""
    h, s, v = x.unbind(1)
    k = torch.stack([(5 + 6 * h) % 6, (3 + 6 * h) % 6, (1 + 6 * h) % 6], 1)
    return v.unsqueeze(1) - (v * s).unsqueeze(1) * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = factor.to(x.dtype)[:, None, None, None]
    return (f * x + (1 - f) * other).clamp(0, 1)


def color_jitter(x: torch.Tensor, generator: torch.Generator, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.4, hue: float = 0.1, p: float = 0.8) -> torch.Tensor:
    """ColorJitter applied to each image with probability p: brightness (blend with black),
    contrast (blend with the image's mean luma), saturation (blend with its luma image), each
    by a factor uniform in [max(0, 1 - s), 1 + s], then hue shifted by a fraction of a turn
    uniform in [-hue, hue]."""
    _check(x)
    n, dev = len(x), x.device
    apply = _coin(n, p, generator, dev)
    fb = _uniform(n, max(0.0, 1 - brightness), 1 + brightness, generator, dev)
    fc = _uniform(n, max(0.0, 1 - contrast), 1 + contrast, generator, dev)
    fs = _uniform(n, max(0.0, 1 - saturation), 1 + saturation, generator, dev)
    fh = _uniform(n, -hue, hue, generator, dev)
    y = _blend(x, torch.zeros_like(x), fb)
    y = _blend(y, grayscale(y).mean((1, 2, 3), keepdim=True).expand_as(y), fc)
    y = _blend(y, grayscale(y).expand_as(y), fs)
    if hue > 0:
        hsv = rgb_to_hsv(y)
        hsv = torch.cat([((hsv[:, :1] + fh.to(x.dtype)[:, None, None, None]) % 1.0), hsv[:, 1:]], 1)
        y = hsv_to_rgb(hsv).clamp(0, 1)
    return torch.where(apply[:, None, None, None], y, x)


def random_grayscale(x: torch.Tensor, generator: torch.Generator, p: float = 0.2) -> torch.Tensor:
    """Each image replaced by its luma (copied to the three channels) with probability p."""
    _check(x)
    gray = _coin(len(x), p, generator, x.device)
    return torch.where(gray[:, None, None, None], grayscale(x).expand_as(x), x)


@dataclass(frozen=True)
class Augment:
    """ProPos's CIFAR training view (its defaults): crop, flip, jitter, grayscale, in that order."""

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One random view of every image of x (B, 3, H, W) in [0, 1]; same shape, in [0, 1]."""
        if generator.device.type != "cpu":
            raise ValueError("pass a CPU torch.Generator: the draws are made on the CPU, then moved")
        x = random_resized_crop(x, generator, self.crop_scale, self.crop_ratio)
        x = horizontal_flip(x, generator, self.flip_p)
        x = color_jitter(x, generator, *self.jitter, p=self.jitter_p)
        return random_grayscale(x, generator, self.gray_p)
