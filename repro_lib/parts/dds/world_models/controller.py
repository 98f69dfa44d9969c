"""The controller C of World Models and its CMA-ES training on real CarRacing-v3 rollouts
(document 000, Appendix A.1 and A.3 step 4; Figure 4).

`Controller` (family "wm_controller") is a_t = W_c [z_t, h_t] + b_c: 32 + 256 inputs, 3 outputs,
(288 + 1) x 3 = 867 parameters. Its output is squashed as Ha & Schmidhuber's CarRacing agent:
steer = tanh(a_0) in [-1, 1], gas = (tanh(a_1) + 1) / 2 in [0, 1], brake = clip(tanh(a_2), 0, 1).

`Agent` drives the real environment: each frame is resized to 64x64 and encoded (z = the
posterior mean), the action comes from [z, h], then the MDN-RNN reads (z, a) to give the next h
(ctallec/world-models' order). `episode_return` is one episode's summed reward.

`run_cma_es` is a generic CMA-ES (the `cma` package) that maximises a reward given by an
`evaluate(candidates, generation)` callback, recording per generation the best candidate's
reward (Figure 4's curve), the population's mean and CMA's step size. `cma_es_loop` is the
training loop `repro_lib.train.fit` runs for a controller (so controllers are cached by
content): its data are the track seeds, its objective `RealEnvReturn` holds the frozen vision
and memory models, and the (candidate, track) episodes of a generation are items of
`repro_lib.tasks.task_map` (Ray tasks under `run --engine ray`, else `workers` processes), the
frozen models' specs and CPU weights its `shared` object (sent once per worker).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .... import models, tasks
from ....models import register_family
from .mdn_rnn import ACTIONS, HIDDEN
from .rollouts import FRAME_SIZE, make_env, resize_frame


@register_family("wm_controller")
class Controller(nn.Module):
    """Linear map [z, h] (latent + hidden) -> 3 raw actions; `act` squashes them."""

    def __init__(self, latent: int = 32, hidden: int = HIDDEN, actions: int = ACTIONS):
        super().__init__()
        self.linear = nn.Linear(latent + hidden, actions)

    def forward(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.cat([z, h], -1))

    def act(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return squash(self(z, h))


def squash(raw: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> steer tanh in [-1, 1], gas (tanh + 1) / 2 in [0, 1], brake clip(tanh, 0, 1)."""
    t = torch.tanh(raw)
    return torch.stack([t[..., 0], (t[..., 1] + 1) / 2, t[..., 2].clamp(0, 1)], -1)


def get_flat(module: nn.Module) -> np.ndarray:
    """All parameters as one float64 vector (CMA-ES's search space)."""
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()]).double().cpu().numpy()


def set_flat(module: nn.Module, flat: np.ndarray) -> None:
    """Load a vector from `get_flat` back into the parameters."""
    flat = torch.as_tensor(np.asarray(flat), dtype=torch.float32)
    total = sum(p.numel() for p in module.parameters())
    if flat.numel() != total:
        raise ValueError(f"expected {total} numbers, got {flat.numel()}")
    start = 0
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(flat[start:start + p.numel()].view_as(p))
            start += p.numel()


def _on_cpu(module: nn.Module) -> nn.Module:
    """The module itself when it is on the CPU, else a CPU copy (the caller's model stays put)."""
    on_cpu = all(p.device.type == "cpu" for p in module.parameters())
    return (module if on_cpu else copy.deepcopy(module).cpu()).eval()


class Agent:
    """Vision V, memory M and controller C acting in the real environment (no gradients), on the
    CPU: one frame at a time is faster there than a round trip to an accelerator."""

    def __init__(self, vision: nn.Module, mdn: nn.Module, controller: Controller):
        self.vision, self.mdn, self.controller = _on_cpu(vision), _on_cpu(mdn), _on_cpu(controller)

    @torch.no_grad()
    def episode(self, seed: int, max_steps: int, record: bool = False) -> dict:
        """One episode on the track of `seed`: its return and length (and, with `record`, the
        64x64 frames and actions)."""
        env = make_env()
        frames, actions = [], []
        try:
            obs, _ = env.reset(seed=int(seed))
            state, total, steps = None, 0.0, 0
            h = torch.zeros(1, self.mdn.hidden)
            while steps < max_steps:
                steps += 1
                frame = resize_frame(obs, FRAME_SIZE)
                x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0
                z = self.vision.encode(x).mu
                a = self.controller.act(z, h)
                _, state = self.mdn.step(z, a, state)
                h = state[0][-1]
                if record:
                    frames.append(frame)
                    actions.append(a[0].numpy())
                obs, reward, terminated, truncated, _ = env.step(a[0].numpy().astype(np.float64))
                total += float(reward)
                if terminated or truncated:
                    break
        finally:
            env.close()
        out = {"seed": int(seed), "return": total, "steps": steps}
        if record:
            out.update(frames=np.stack(frames), actions=np.stack(actions))
        return out


def episode_return(agent: Agent, seed: int, max_steps: int) -> float:
    return agent.episode(seed, max_steps)["return"]


# ----------------------------------------------------------------------------- CMA-ES


@dataclass(frozen=True)
class CMASettings:
    """CMA-ES settings: `popsize` candidates per generation, `generations`, each candidate's
    reward the mean over `rollouts` episodes of at most `max_steps` steps (the same tracks for
    all candidates of a generation), initial step size `sigma0` around zero weights, `seed`
    (CMA's sampling). Ha & Schmidhuber: population 64, 16 rollouts each, full 1,000-step
    episodes. (The number of worker processes is the objective's: it does not change the
    result, so it is not part of the cache key.)"""

    popsize: int
    generations: int
    rollouts: int
    max_steps: int = 1000
    sigma0: float = 0.1
    seed: int = 0

    def for_check(self) -> CMASettings:
        """The smallest run of the same search, for `repro_lib.plans.check_job`: one
        generation of 2 candidates, one episode of 5 steps."""
        return replace(self, popsize=2, generations=1, rollouts=1, max_steps=5)


def run_cma_es(evaluate: Callable[[np.ndarray, int], np.ndarray], x0: np.ndarray, sigma0: float, popsize: int,
               generations: int, seed: int = 0, progress: bool = True, desc: str = "CMA-ES"
               ) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Maximise the reward `evaluate(candidates (P, D), generation) -> (P,)` with `cma`; returns
    the best candidate evaluated and the per-generation history (best, mean, sigma)."""
    import cma

    if popsize < 2 or generations < 1:
        raise ValueError(f"need popsize >= 2 and generations >= 1, got {popsize} and {generations}")
    es = cma.CMAEvolutionStrategy(np.asarray(x0, dtype=float), sigma0,
                                  {"popsize": popsize, "seed": int(seed) + 1, "verbose": -9})
    history: dict[str, list[float]] = {"best_reward": [], "mean_reward": [], "sigma": []}
    best_x, best_reward = np.asarray(x0, dtype=float), -np.inf
    for generation in tqdm(range(generations), desc=desc, disable=not progress, leave=False):
        candidates = np.asarray(es.ask())
        rewards = np.asarray(evaluate(candidates, generation), dtype=float)
        es.tell(list(candidates), list(-rewards))
        i = int(np.argmax(rewards))
        if rewards[i] > best_reward:
            best_x, best_reward = candidates[i].copy(), float(rewards[i])
        history["best_reward"].append(float(rewards[i]))
        history["mean_reward"].append(float(rewards.mean()))
        history["sigma"].append(float(es.sigma))
    return best_x, history


def _agent_of(shared: tuple) -> Agent:
    """The agent of `shared` = (vision spec, vision state, MDN spec, MDN state, controller spec),
    built once per process (`tasks.made_once`)."""
    def build() -> Agent:
        vision_spec, vision_state, mdn_spec, mdn_state, controller_spec = shared
        vision = models.build(vision_spec)
        vision.load_state_dict(vision_state)
        mdn = models.build(mdn_spec)
        mdn.load_state_dict(mdn_state)
        return Agent(vision, mdn, models.build(controller_spec))

    return tasks.made_once(shared, build)


def _episode_task(shared: tuple, item: tuple) -> float:
    """`task_map`'s item function: the return of candidate `item[0]` on track `item[1]` in at most
    `item[2]` steps."""
    flat, seed, max_steps = item
    agent = _agent_of(shared)
    set_flat(agent.controller, flat)
    return episode_return(agent, int(seed), int(max_steps))


class ParallelEvaluator:
    """Mean return of each candidate over given track seeds; every (candidate, track) episode is
    an item of `repro_lib.tasks.task_map` (`workers` processes, 1: in this process, None: the
    free cores; Ray tasks under the engine), the frozen V and M shipped once per worker."""

    def __init__(self, vision: nn.Module, vision_spec: dict, mdn: nn.Module, mdn_spec: dict,
                 controller_spec: dict, workers: int | None = 1):
        self.workers, self.controller_spec = workers, controller_spec
        self.shared = (vision_spec, {k: v.detach().cpu() for k, v in vision.state_dict().items()}, mdn_spec,
                       {k: v.detach().cpu() for k, v in mdn.state_dict().items()}, controller_spec)

    def __call__(self, candidates: np.ndarray, seeds: list[int], max_steps: int) -> np.ndarray:
        """Each candidate's mean return over `seeds`, (P,)."""
        return self.returns(candidates, seeds, max_steps).mean(1)

    def returns(self, candidates: np.ndarray, seeds: list[int], max_steps: int) -> np.ndarray:
        """The return of every candidate on every track seed, (P, S)."""
        items = [(np.asarray(c, dtype=np.float64), int(s), int(max_steps)) for c in candidates for s in seeds]
        returns = tasks.task_map(_episode_task, items, shared=self.shared, workers=self.workers,
                                 desc="candidate episodes", progress=False)
        return np.asarray(returns, dtype=float).reshape(len(candidates), len(seeds))

    def close(self) -> None:
        """Nothing to release (the map's workers are `task_map`'s); kept for `with` blocks."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass(frozen=True)
class RealEnvReturn:
    """The controller's objective: mean real-environment return with the frozen vision and
    memory models, named in cache keys by their specs and cache keys; candidates are evaluated
    in `workers` processes (not in the key: it does not change the returns)."""

    vision_spec: dict
    vision_key: str
    mdn_spec: dict
    mdn_key: str
    vision: nn.Module | None = field(default=None, compare=False, repr=False)
    mdn: nn.Module | None = field(default=None, compare=False, repr=False)
    workers: int = field(default=1, compare=False)

    def describe(self):
        return {"objective": "RealEnvReturn", "vision": self.vision_spec, "vision_key": self.vision_key,
                "mdn": self.mdn_spec, "mdn_key": self.mdn_key}


def generation_seeds(track_seeds: list[int], generation: int, rollouts: int) -> list[int]:
    """The `rollouts` track seeds of a generation: the next ones in `track_seeds`, cycling."""
    return [int(track_seeds[(generation * rollouts + i) % len(track_seeds)]) for i in range(rollouts)]


def cma_es_loop(model: Controller, objective: RealEnvReturn, seeds, settings: CMASettings, desc: str = "CMA-ES",
                progress: bool = True, val=None) -> dict[str, list[float]]:
    """`fit`'s training loop for a controller: CMA-ES from zero weights on the track seeds
    `seeds` (a tensor), the best candidate evaluated loaded into `model`."""
    track_seeds = [int(s) for s in torch.as_tensor(seeds).reshape(-1).tolist()]
    controller_spec = {"family": "wm_controller", "latent": model.linear.in_features - objective.mdn.hidden,
                       "hidden": objective.mdn.hidden}
    with ParallelEvaluator(objective.vision, objective.vision_spec, objective.mdn, objective.mdn_spec,
                           controller_spec, objective.workers) as evaluator:
        best, history = run_cma_es(
            lambda c, g: evaluator(c, generation_seeds(track_seeds, g, settings.rollouts), settings.max_steps),
            np.zeros(len(get_flat(model))), settings.sigma0, settings.popsize, settings.generations,
            settings.seed, progress, desc)
    set_flat(model, best)
    return history


def evaluate_controller(vision: nn.Module, vision_spec: dict, mdn: nn.Module, mdn_spec: dict, controller: Controller,
                        seeds, max_steps: int = 1000, workers: int = 1) -> np.ndarray:
    """The trained controller's return on each track of `seeds` (the document: 100 episodes)."""
    spec = {"family": "wm_controller", "latent": controller.linear.in_features - mdn.hidden, "hidden": mdn.hidden}
    with ParallelEvaluator(vision, vision_spec, mdn, mdn_spec, spec, workers) as evaluator:
        return evaluator.returns(get_flat(controller)[None], [int(s) for s in seeds], max_steps)[0]


def reward_summary(returns) -> dict[str, float]:
    """Mean, standard deviation (n - 1) and a 95% Student-t interval of the mean of episode returns."""
    from scipy import stats

    r = np.asarray(returns, dtype=float)
    if r.ndim != 1 or len(r) < 2:
        raise ValueError(f"need at least two episode returns, got shape {r.shape}")
    mean, std = float(r.mean()), float(r.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(r) - 1) * std / np.sqrt(len(r)))
    return {"mean": mean, "std": std, "n": int(len(r)), "ci_low": mean - half, "ci_high": mean + half}


def difference_interval(a, b) -> dict[str, float]:
    """mean(b) - mean(a) and its 95% Welch interval (unequal variances): does b beat a?"""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if se > 0 else np.inf
    diff = float(b.mean() - a.mean())
    half = float(stats.t.ppf(0.975, dof) * se) if se > 0 else 0.0
    return {"difference": diff, "ci_low": diff - half, "ci_high": diff + half}
