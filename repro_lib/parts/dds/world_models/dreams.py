"""Dreams: frames a world model imagines (document 000, Figure 3 and Table 4).

The document does not say how its dream sequences were made; our protocol (knobs): start
from a real frame x_0, encode it (z_0 = the posterior mean), then for t = 0, 1, ... feed the
recorded action a_t of the real episode to the MDN-RNN and draw z_{t+1} from its mixture at
temperature tau (1: the mixture as trained; Ha & Schmidhuber's CarRacing dreams use 1.0-1.15),
decoding every z_t with the vision model's decoder. With the same actions, the real episode
is the reference sequence a dream is compared with.
"""
from __future__ import annotations

import torch
from torch import nn

from .mdn_rnn import sample_next
from .rollouts import Rollouts, frames_to_images


@torch.no_grad()
def dream(vision: nn.Module, mdn: nn.Module, first_frame: torch.Tensor, actions: torch.Tensor,
          temperature: float = 1.0, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Dream len(actions) + 1 frames from `first_frame` (3, 64, 64) in [0, 1] under `actions`
    (T, 3): `frames` (T + 1, 3, 64, 64) decoded from z_0 .. z_T, `z` (T + 1, latent), on the CPU
    (computed on the models' device; `generator` must live there too).
    Batched: first_frame (B, 3, 64, 64) and actions (B, T, 3) give (B, T + 1, ...)."""
    batched = first_frame.dim() == 4
    device = next(vision.parameters()).device
    x0 = (first_frame if batched else first_frame[None]).to(device)
    acts = (actions if batched else actions[None]).to(device)
    if acts.dim() != 3 or len(acts) != len(x0):
        raise ValueError(f"actions must be (T, 3) per first frame, got {tuple(actions.shape)}")
    vision.eval()
    mdn.eval()
    z = vision.encode(x0).mu
    zs, state = [z], None
    for t in range(acts.shape[1]):
        mixture, state = mdn.step(z, acts[:, t], state)
        z = sample_next(mixture, temperature, generator)
        zs.append(z)
    z_all = torch.stack(zs, 1)
    frames = vision.decode(z_all.flatten(0, 1)).unflatten(0, z_all.shape[:2]).cpu()
    z_all = z_all.cpu()
    if not batched:
        return {"frames": frames[0], "z": z_all[0]}
    return {"frames": frames, "z": z_all}


def real_windows(rollouts: Rollouts, length: int, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """`n` windows of `length` + 1 real frames, each inside one episode, chosen at random (seeded)
    among all such windows: `frames` (n, length + 1, 3, 64, 64) and the `actions` (n, length, 3)
    taken between them, with the `episode` and `start` of each."""
    candidates = [(e, t) for e, steps in enumerate(rollouts.lengths.tolist()) for t in range(steps - length)]
    if len(candidates) < n:
        raise ValueError(f"only {len(candidates)} windows of {length + 1} frames in these rollouts, {n} asked: "
                         "use shorter dreams or longer rollouts")
    picks = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    starts = rollouts.starts.tolist()
    rows = torch.stack([torch.arange(starts[candidates[i][0]] + candidates[i][1],
                                     starts[candidates[i][0]] + candidates[i][1] + length + 1) for i in picks])
    return {"frames": frames_to_images(rollouts.frames[rows.reshape(-1)]).unflatten(0, rows.shape),
            "actions": rollouts.actions[rows[:, :-1]].float(),
            "episode": torch.tensor([candidates[i][0] for i in picks]),
            "start": torch.tensor([candidates[i][1] for i in picks])}


def dream_windows(vision: nn.Module, mdn: nn.Module, windows: dict[str, torch.Tensor], temperature: float = 1.0,
                  seed: int = 0) -> torch.Tensor:
    """Dreams from each window's first real frame under its recorded actions, (n, length + 1, 3, 64, 64)."""
    generator = torch.Generator(device=next(vision.parameters()).device).manual_seed(seed)
    return dream(vision, mdn, windows["frames"][:, 0], windows["actions"], temperature, generator)["frames"]
