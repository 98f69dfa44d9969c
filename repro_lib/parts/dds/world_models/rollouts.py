"""Seeded CarRacing-v3 rollouts with a Brownian random policy, generated in parallel processes
and cached by content (World Models' data collection, document 000 Section 4.2 / Appendix A.3).

The random policy is the one of the World Models reproductions (ctallec/world-models,
`sample_continuous_policy`, our own code): a_0 uniform in the action box, then
a_{t+1} = clip(a_t + sqrt(dt) N(0, I), low, high) with dt = 1/50, so actions drift smoothly
instead of jittering (white noise hardly moves the car).

One rollout of seed s: `env.reset(seed=s)` (the track), the policy's noise from
`numpy.random.default_rng(s)`, at most `max_steps` steps. Row t holds the frame the agent saw
(96x96 -> 64x64 RGB uint8, PIL bilinear with antialiasing, as ctallec's torchvision Resize), the
action taken on it, the reward it got and whether the episode ended after it (terminated or
truncated): frame t and action t lead to frame t + 1.

Rollouts run through `repro_lib.tasks.task_map` (one environment per item; Ray tasks under
`run --engine ray`, else worker processes with torch/BLAS threads = 1); the result
is stored once under `$REPRO_DATA_CACHE` (else `<repo>/.cache/data`) as
`carracing-<key>.pt` through a temporary file and a rename, with the seeds inside it, keyed by a
hash of (seeds, max_steps, dt, size, gymnasium and box2d versions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from .... import tasks
from ....cache import key_of, load_file, save_atomic
from ....data import Tensors
from ....paths import cache_folder

ENV_ID = "CarRacing-v3"
FRAME_SIZE = 64
BROWNIAN_DT = 1.0 / 50.0
FORMAT = 1


def data_cache_dir() -> Path:
    """The folder that holds generated data sets (`$REPRO_DATA_CACHE`, else .cache/data)."""
    return cache_folder("data", "REPRO_DATA_CACHE")


def make_env():
    """A CarRacing-v3 environment (continuous actions, 96x96x3 frames, 1,000-step episodes)."""
    import gymnasium as gym

    return gym.make(ENV_ID)


def resize_frame(frame: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """(96, 96, 3) uint8 -> (size, size, 3) uint8, PIL bilinear (antialiased)."""
    from PIL import Image

    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
    return np.array(Image.fromarray(frame).resize((size, size), Image.BILINEAR))


def brownian_actions(steps: int, rng: np.random.Generator, dt: float = BROWNIAN_DT,
                     low=(-1.0, 0.0, 0.0), high=(1.0, 1.0, 1.0)) -> np.ndarray:
    """(steps, 3) float32: a_0 ~ U(low, high), a_{t+1} = clip(a_t + sqrt(dt) N(0, I), low, high)."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    actions = np.empty((steps, len(low)), dtype=np.float32)
    a = rng.uniform(low, high)
    for t in range(steps):
        actions[t] = a
        a = np.clip(a + math.sqrt(dt) * rng.standard_normal(len(low)), low, high)
    return actions


def one_rollout(seed: int, max_steps: int, dt: float = BROWNIAN_DT, size: int = FRAME_SIZE) -> dict:
    """One Brownian-policy episode of seed `seed` (track and noise), at most `max_steps` steps:
    frames (T, size, size, 3) uint8, actions (T, 3) float32, rewards (T,) float32, dones (T,) bool."""
    env = make_env()
    try:
        obs, _ = env.reset(seed=int(seed))
        actions = brownian_actions(max_steps, np.random.default_rng(int(seed)), dt,
                                   env.action_space.low, env.action_space.high)
        frames, rewards, dones = [], [], []
        for t in range(max_steps):
            frames.append(resize_frame(obs, size))
            obs, reward, terminated, truncated, _ = env.step(actions[t])
            rewards.append(reward)
            dones.append(terminated or truncated)
            if dones[-1]:
                break
    finally:
        env.close()
    n = len(frames)
    return {"seed": int(seed), "frames": np.stack(frames), "actions": actions[:n],
            "rewards": np.asarray(rewards, dtype=np.float32), "dones": np.asarray(dones, dtype=bool)}


@dataclass
class Rollouts:
    """Episodes stored end to end: `frames` (N, 64, 64, 3) uint8, `actions` (N, 3), `rewards` (N,),
    `dones` (N,) bool, `lengths` (E,) steps per episode, `seeds` (E,); `data_id` names them."""

    frames: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    lengths: torch.Tensor
    seeds: torch.Tensor
    data_id: str

    @property
    def starts(self) -> torch.Tensor:
        """Index of each episode's first row, (E,)."""
        return torch.cumsum(self.lengths, 0) - self.lengths

    def episode(self, i: int) -> dict[str, torch.Tensor]:
        """Episode i's frames, actions, rewards and dones."""
        start, n = int(self.starts[i]), int(self.lengths[i])
        return {k: getattr(self, k)[start:start + n] for k in ("frames", "actions", "rewards", "dones")}

    def images(self) -> Tensors:
        """All frames as float images (N, 3, 64, 64) in [0, 1]: a vision model's training data."""
        return Tensors((frames_to_images(self.frames),), f"{self.data_id}:images")

    def sequences(self, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Row indices (S, length) of every non-overlapping window of `length` steps inside one
        episode (the MDN-RNN's training sequences), with their episode index (S,) and start (S,)."""
        rows, episodes, starts = [], [], []
        for e, (start, n) in enumerate(zip(self.starts.tolist(), self.lengths.tolist())):
            for s in range(0, n - length + 1, length):
                rows.append(torch.arange(start + s, start + s + length))
                episodes.append(e)
                starts.append(s)
        if not rows:
            raise ValueError(f"no episode has {length} steps (lengths {self.lengths.tolist()}): "
                             "use shorter sequences or longer rollouts")
        return torch.stack(rows), torch.tensor(episodes), torch.tensor(starts)


def frames_to_images(frames: torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [0, 1]."""
    return frames.permute(0, 3, 1, 2).float().div(255.0).contiguous()


def rollouts_id(seeds, max_steps: int, dt: float = BROWNIAN_DT, size: int = FRAME_SIZE) -> str:
    """The content key of a set of rollouts (also its identity in model-cache keys)."""
    versions = {name: _version(name) for name in ("gymnasium", "box2d", "pillow")}
    return key_of({"dataset": "carracing-brownian", "format": FORMAT, "env": ENV_ID,
                   "seeds": [int(s) for s in seeds], "max_steps": int(max_steps), "dt": float(dt),
                   "size": int(size), "versions": versions})


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _rollout_task(shared: tuple, seed: int) -> dict:
    """`task_map`'s item function: one rollout of `seed`, shared = (max_steps, dt, size)."""
    return one_rollout(seed, *shared)


def generate(seeds, max_steps: int, workers: int | None = 1, dt: float = BROWNIAN_DT, size: int = FRAME_SIZE,
             progress: bool = True) -> list[dict]:
    """`one_rollout` of every seed through `repro_lib.tasks.task_map` (Ray tasks under the engine,
    else `workers` processes; 1: in this process; None: the free cores), in seed order."""
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be distinct (a repeated seed repeats the same episode)")
    if max_steps < 1 or (workers is not None and workers < 1):
        raise ValueError(f"max_steps and workers must be >= 1, got {max_steps} and {workers}")
    workers = None if workers is None else min(workers, len(seeds))
    return tasks.task_map(_rollout_task, seeds, shared=(int(max_steps), float(dt), int(size)), workers=workers,
                    desc=f"{ENV_ID} rollouts", progress=progress)


def rollouts_path(seeds, max_steps: int, dt: float = BROWNIAN_DT, size: int = FRAME_SIZE) -> Path:
    """Where the rollouts of `seeds` are (or will be) stored."""
    return data_cache_dir() / f"carracing-{rollouts_id([int(s) for s in seeds], max_steps, dt, size)}.pt"


def load_rollouts(seeds, max_steps: int, workers: int = 1, dt: float = BROWNIAN_DT, size: int = FRAME_SIZE,
                  progress: bool = True) -> Rollouts:
    """The rollouts of `seeds` (generated once, then read from the data cache)."""
    seeds = [int(s) for s in seeds]
    key = rollouts_id(seeds, max_steps, dt, size)
    path = rollouts_path(seeds, max_steps, dt, size)
    if path.exists():
        stored = load_file(path)
        if stored["seeds"].tolist() != seeds:
            raise RuntimeError(f"{path} holds seeds {stored['seeds'].tolist()[:5]}..., not the requested "
                               "ones; delete it to regenerate")
    else:
        episodes = generate(seeds, max_steps, workers, dt, size, progress)
        stored = {
            "frames": torch.from_numpy(np.concatenate([e["frames"] for e in episodes])),
            "actions": torch.from_numpy(np.concatenate([e["actions"] for e in episodes])),
            "rewards": torch.from_numpy(np.concatenate([e["rewards"] for e in episodes])),
            "dones": torch.from_numpy(np.concatenate([e["dones"] for e in episodes])),
            "lengths": torch.tensor([len(e["frames"]) for e in episodes]),
            "seeds": torch.tensor(seeds),
            "max_steps": int(max_steps), "dt": float(dt), "size": int(size), "env": ENV_ID,
        }
        save_atomic(path, stored)
    return Rollouts(stored["frames"], stored["actions"], stored["rewards"], stored["dones"],
                    stored["lengths"], stored["seeds"], f"carracing:{key}")
