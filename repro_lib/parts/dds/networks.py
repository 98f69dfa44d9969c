"""The networks of the DDS part: a U-Net (the selector g, and our reconstruction network f)
and the naive autoencoder of Table 5.

The document names the selector "the U-Net model (with C = 16)" and gives nothing more; our
U-Net (our choice, stated in the book): `depth` levels of two 3x3 convolutions with batch
norm and ReLU, C * 2^level channels at level `level`, 2x2 max-pooling down, 2x2 transposed
convolutions up, the encoder's feature maps concatenated into the decoder (the skip or
"residual" links; `skips=False` drops them, Table 5's "w/o residual links"), a 1x1
convolution out; tensors in channels-last memory order (faster on CPU). At C = 16, depth 3,
32x32 inputs pass through 16, 32, 64 channels to a 128-channel 4x4 bottleneck.

`NaiveAE` is the baseline Table 5 compares against (its size is not given; ours): a conv
encoder (4x4 stride-2 convolutions of C, 2C, 4C channels, 32x32 -> 4x4) and a linear layer to
a code of `latent` numbers (M of them in Table 5: as many as DDS keeps), a mirrored decoder,
a sigmoid out.
"""
from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """x (B, in_channels, H, W) -> (B, out_channels, H, W); H and W divisible by 2^depth.
    `out_activation`: None (raw scores, the selector g~) or "sigmoid" (images in (0, 1))."""

    def __init__(self, in_channels: int = 3, out_channels: int = 1, channels: int = 16, depth: int = 3,
                 skips: bool = True, out_activation: str | None = None):
        super().__init__()
        if out_activation not in (None, "sigmoid"):
            raise ValueError(f"out_activation must be None or 'sigmoid', got {out_activation!r}")
        if depth < 1 or channels < 1:
            raise ValueError(f"depth and channels must be >= 1, got {depth} and {channels}")
        self.depth, self.skips, self.out_activation = depth, skips, out_activation
        widths = [channels * 2 ** level for level in range(depth + 1)]
        self.down = nn.ModuleList([_block(in_channels, widths[0])] +
                                  [_block(widths[i - 1], widths[i]) for i in range(1, depth)])
        self.pool = nn.MaxPool2d(2)
        self.bottom = _block(widths[depth - 1], widths[depth])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.merge = nn.ModuleList([_block(widths[i] * (2 if skips else 1), widths[i])
                                    for i in reversed(range(depth))])
        self.out = nn.Conv2d(widths[0], out_channels, 1)
        # channels-last convolutions are 20-30% faster on CPU here (and no slower on a GPU)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side = 2 ** self.depth
        if x.shape[-1] % side or x.shape[-2] % side:
            raise ValueError(f"a depth-{self.depth} U-Net needs H and W divisible by {side}, got {tuple(x.shape)}")
        x = x.contiguous(memory_format=torch.channels_last)
        features = []
        for block in self.down:
            x = block(x)
            features.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(features)):
            x = up(x)
            x = merge(torch.cat([x, skip], 1) if self.skips else x)
        x = self.out(x)
        return torch.sigmoid(x) if self.out_activation == "sigmoid" else x


class NaiveAE(nn.Module):
    """32x32 images (B, channels, 32, 32) -> a code of `latent` numbers -> images in (0, 1)."""

    def __init__(self, latent: int, channels: int = 3, width: int = 32, size: int = 32):
        super().__init__()
        if size % 8:
            raise ValueError(f"size must be divisible by 8, got {size}")
        self.latent, cells = latent, size // 8
        w = [width, 2 * width, 4 * width]
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, w[0], 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(w[0], w[1], 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(w[1], w[2], 4, 2, 1), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Linear(w[2] * cells * cells, latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, w[2] * cells * cells), nn.ReLU(inplace=True), nn.Unflatten(1, (w[2], cells, cells)),
            nn.ConvTranspose2d(w[2], w[1], 4, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w[1], w[0], 4, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w[0], channels, 4, 2, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters of `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
