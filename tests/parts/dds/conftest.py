"""Fixtures shared by the DDS part's tests."""
import pytest
import torch

from repro_lib.parts.dds.world_models.rollouts import Rollouts


def _hand_made_rollouts(lengths=(5, 3), seed=0, tag="a") -> Rollouts:
    """Episodes of random 64x64 frames and actions, reward 1 per step, `lengths` steps each."""
    g = torch.Generator().manual_seed(seed)
    n = sum(lengths)
    frames = (torch.rand(n, 64, 64, 3, generator=g) * 255).to(torch.uint8)
    dones = torch.zeros(n, dtype=torch.bool)
    dones[torch.cumsum(torch.tensor(lengths), 0) - 1] = True
    return Rollouts(frames, torch.rand(n, 3, generator=g), torch.ones(n), dones, torch.tensor(lengths),
                    torch.arange(len(lengths)) + seed, f"test:{tag}")


@pytest.fixture
def hand_made_rollouts():
    """The builder `_hand_made_rollouts(lengths, seed, tag)`."""
    return _hand_made_rollouts
