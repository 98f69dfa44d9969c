"""A cell-based stochastic wildfire model on a 20x20 forest, in the spirit of Cell2Fire.

The model
---------
A *landscape* is fixed (one forest, as in the report): per cell a fuel load in [0, 1]
(0 = nothing to burn: rock, water, a road), an elevation (m), and from it slope and aspect.
A *scenario* draws, from one seed: an ignition cell (from an ignition-probability map), a
wind direction and speed, and for every directed edge between 4-neighbours one uniform
number. The edge a -> b in direction u is *open* when that number is below

    p(a -> b) = min(1, p_base * fuel_b * exp(c_wind * speed * cos(angle(wind, u))
                                          + c_slope * (elev_b - elev_a) / cell_m))

(wind blowing towards u and uphill spread raise the chance, as in Rothermel-type rate-of-
spread models). The fire starts at the ignition cell and, for `duration` time steps,
spreads along open edges into cells that are not firebreaks (a firebreak cell never
burns; a fire lit on a firebreak does not start). A cell burns iff it is reachable from the
ignition through open edges and non-firebreak cells in at most `duration` steps: a
breadth-first search (`reference_burned`) gives the same answer as the synchronous spread.

The fitness of a layout (20x20 binary, 1 = firebreak) is the mean over the K scenarios of
the share of cells that did not burn. Scenarios are shared by every layout, so fitnesses
of different layouts are comparable (common random numbers).

Speed: the synchronous spread is run on bit-packed scenarios: one int64 word holds one
cell's state in 64 scenarios, so a time step is ten bitwise tensor operations over
(layouts, cells x words). See `benchmarks/bench_fire.py`.
"""
from __future__ import annotations

import contextlib
import math
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ...device import get_device

SIZE = 20
# Directions as (row step, column step): fire moves from a to b = a + step.
DIRECTIONS = {"south": (1, 0), "north": (-1, 0), "east": (0, 1), "west": (0, -1)}
_DIRS = tuple(DIRECTIONS.values())


@dataclass(frozen=True)
class FireParams:
    """Spread parameters. `p_base`: chance an edge is open with average fuel, no wind, flat;
    `c_wind`: log-odds-like gain per (m/s) of wind along the edge; `c_slope`: gain per unit
    of rise over run; `duration`: time steps a fire burns; wind speed is drawn uniformly in
    [`wind_min`, `wind_max`] m/s around a prevailing direction (degrees, 0 = blowing east,
    90 = blowing south) with `wind_spread_deg` standard deviation."""

    p_base: float = 0.73
    c_wind: float = 0.08
    c_slope: float = 1.0
    duration: int = 20
    wind_min: float = 0.0
    wind_max: float = 10.0
    wind_dir_deg: float = 45.0
    wind_spread_deg: float = 30.0


@dataclass(frozen=True)
class Landscape:
    """One forest: fuel (H, W) in [0, 1], elevation (m), slope (rise/run), aspect (radians,
    direction of steepest descent), ignition probability (sums to 1); cell size `cell_m` m.
    Optional weather streams: `stream_dir` (S,) radians (the way the wind blows, 0 = east,
    pi/2 = south) and `stream_speed` (S,) m/s; a scenario then takes the wind of a random
    stream instead of drawing it from the `FireParams`."""

    fuel: np.ndarray
    elevation: np.ndarray
    slope: np.ndarray
    aspect: np.ndarray
    ignition: np.ndarray
    cell_m: float = 100.0
    stream_dir: np.ndarray | None = None
    stream_speed: np.ndarray | None = None

    def channels(self) -> np.ndarray:
        """The three landscape input channels of the models, (3, H, W), each scaled to [0, 1]:
        normalised elevation, slope, and aspect."""
        def norm(a):
            a = np.asarray(a, dtype=np.float32)
            span = a.max() - a.min()
            return (a - a.min()) / span if span > 0 else np.zeros_like(a)
        return np.stack([norm(self.elevation), norm(self.slope),
                         (self.aspect % (2 * np.pi)) / (2 * np.pi)]).astype(np.float32)


def _smooth_field(rng: np.random.Generator, size: int, scale: float) -> np.ndarray:
    """A smooth random field on a size x size grid: white noise blurred by a Gaussian of
    `scale` cells (FFT), scaled to mean 0 and std 1."""
    noise = rng.standard_normal((size, size))
    freq = np.fft.fftfreq(size)
    kernel = np.exp(-2 * (np.pi * scale) ** 2 * (freq[:, None] ** 2 + freq[None, :] ** 2))
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * kernel))
    return (field - field.mean()) / field.std()


def make_landscape(seed: int = 0, size: int = SIZE, non_fuel_share: float = 0.08,
                   relief_m: float = 150.0, cell_m: float = 100.0) -> Landscape:
    """A seeded synthetic forest: patchy fuel with `non_fuel_share` of cells unburnable, hills of
    about `relief_m` metres, ignitions more likely in the low, north-west part."""
    rng = np.random.default_rng(seed)
    fuel_field = _smooth_field(rng, size, 2.0)
    cut = np.quantile(fuel_field, non_fuel_share)
    fuel = np.where(fuel_field <= cut, 0.0, 0.6 + 0.4 * (fuel_field - cut) / (fuel_field.max() - cut))
    elevation = relief_m * (_smooth_field(rng, size, 4.0) * 0.5 + 0.5)
    gy, gx = np.gradient(elevation, cell_m)
    slope = np.hypot(gx, gy)
    aspect = np.arctan2(-gy, -gx)  # direction of steepest descent, 0 = east, pi/2 = south
    rows, cols = np.mgrid[0:size, 0:size] / (size - 1)
    ignition = np.exp(-1.5 * (rows + cols)) * (fuel > 0)
    ignition = ignition / ignition.sum()
    return Landscape(fuel.astype(np.float64), elevation, slope, aspect, ignition, cell_m)


def edge_probabilities(land: Landscape, params: FireParams, wind_dir: np.ndarray,
                       wind_speed: np.ndarray) -> np.ndarray:
    """p(a -> b) for every scenario, direction and destination cell b: (K, 4, H, W) in
    [0, 1], directions in the order of DIRECTIONS; edges leaving the grid have p = 0."""
    h, w = land.fuel.shape
    k = len(wind_dir)
    out = np.zeros((k, 4, h, w))
    for d, (dr, dc) in enumerate(_DIRS):
        # destination cells b whose source a = b - step is on the grid
        rows = slice(max(dr, 0), h + min(dr, 0))
        cols = slice(max(dc, 0), w + min(dc, 0))
        src_rows = slice(max(-dr, 0), h + min(-dr, 0))
        src_cols = slice(max(-dc, 0), w + min(-dc, 0))
        rise = (land.elevation[rows, cols] - land.elevation[src_rows, src_cols]) / land.cell_m
        move = math.atan2(dr, dc)  # angle of the step, same convention as the wind
        along = wind_speed * np.cos(wind_dir - move)  # (K,)
        logit = params.c_wind * along[:, None, None] + params.c_slope * rise[None]
        p = params.p_base * land.fuel[rows, cols][None] * np.exp(logit)
        out[:, d, rows, cols] = np.minimum(p, 1.0)
    return out


@dataclass
class Scenarios:
    """K fire scenarios: `open` (K, 4, H, W) bool (edge into cell b from direction d is open),
    `ignition` (K,) flat cell index, `wind_dir` (K,) radians, `wind_speed` (K,) m/s,
    `duration` time steps; `weights` (K,) non-negative, summing to 1 (None: equal weights),
    the weight of each scenario in a layout's fitness."""

    open: np.ndarray
    ignition: np.ndarray
    wind_dir: np.ndarray
    wind_speed: np.ndarray
    duration: int
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ignition)

    def weight_vector(self) -> np.ndarray:
        """(K,) float64: `weights`, or 1/K each."""
        k = len(self)
        return np.full(k, 1.0 / k) if self.weights is None else np.asarray(self.weights, dtype=np.float64)


@dataclass(frozen=True)
class Draws:
    """The random numbers behind K scenarios, independent of the spread parameters (so that
    scenarios for other parameters share them: common random numbers): `ignition` (K,) flat
    cells, wind `wind_dir` (K,) radians and `wind_speed` (K,) m/s, `uniform` (K, 4, H, W)."""

    ignition: np.ndarray
    wind_dir: np.ndarray
    wind_speed: np.ndarray
    uniform: np.ndarray


def draw_randomness(land: Landscape, params: FireParams, k: int = 100, seed: int = 0,
                    ignition: np.ndarray | None = None) -> Draws:
    """The random numbers of K scenarios from `seed`. Ignition cells are drawn from the
    landscape's ignition map unless given (`ignition`, K flat cells). The wind is a random
    weather stream's where the landscape has streams, else drawn from `params` (prevailing
    direction, spread and speed range)."""
    rng = np.random.default_rng(seed)
    size = land.fuel.size
    if ignition is None:
        ignition = rng.choice(size, size=k, p=land.ignition.ravel())
    else:
        ignition = np.asarray(ignition, dtype=np.int64)
        if ignition.shape != (k,) or ignition.min() < 0 or ignition.max() >= size:
            raise ValueError(f"ignition must be {k} flat cell indices in [0, {size}), got shape {ignition.shape}")
    if land.stream_dir is None:
        wind_dir = np.deg2rad(params.wind_dir_deg + params.wind_spread_deg * rng.standard_normal(k))
        wind_speed = rng.uniform(params.wind_min, params.wind_max, size=k)
    else:
        pick = rng.integers(len(land.stream_dir), size=k)
        wind_dir, wind_speed = land.stream_dir[pick], land.stream_speed[pick]
    uniform = rng.random((k, 4, *land.fuel.shape))
    return Draws(ignition, wind_dir, wind_speed, uniform)


def scenarios_from(land: Landscape, params: FireParams, draws: Draws,
                   weights: np.ndarray | None = None) -> Scenarios:
    """The scenarios of `draws` under `params`: edge a -> b open iff its uniform < p(a -> b)."""
    p = edge_probabilities(land, params, draws.wind_dir, draws.wind_speed)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(draws.ignition),) or (weights < 0).any() or not np.isclose(weights.sum(), 1.0):
            raise ValueError("weights must be K non-negative numbers summing to 1")
    return Scenarios(draws.uniform < p, draws.ignition, draws.wind_dir, draws.wind_speed, params.duration, weights)


def draw_scenarios(land: Landscape, params: FireParams, k: int = 100, seed: int = 0) -> Scenarios:
    """K scenarios from `seed` (same seed, same scenarios)."""
    return scenarios_from(land, params, draw_randomness(land, params, k, seed))


# ---------------------------------------------------------------------------- reference

def reference_burned(layout: np.ndarray, scen: Scenarios, index: int) -> np.ndarray:
    """Burned cells (H, W) bool of one layout in scenario `index`: a plain per-cell
    breadth-first search, cells reached in at most `duration` steps."""
    layout = np.asarray(layout, dtype=bool)
    h, w = layout.shape
    burned = np.zeros((h, w), dtype=bool)
    start = divmod(int(scen.ignition[index]), w)
    if layout[start]:
        return burned
    opened = scen.open[index]
    burned[start] = True
    queue = deque([(start, 0)])
    while queue:
        (r, c), t = queue.popleft()
        if t == scen.duration:
            continue
        for d, (dr, dc) in enumerate(_DIRS):
            rr, cc = r + dr, c + dc
            if 0 <= rr < h and 0 <= cc < w and not burned[rr, cc] and not layout[rr, cc] \
                    and opened[d, rr, cc]:
                burned[rr, cc] = True
                queue.append(((rr, cc), t + 1))
    return burned


def reference_fitness(layouts: np.ndarray, scen: Scenarios) -> np.ndarray:
    """Fitness of each layout (N, H, W) by the reference search: the non-burned share,
    averaged over the scenarios with their weights (equal weights by default)."""
    layouts = np.asarray(layouts, dtype=bool).reshape(-1, *scen.open.shape[-2:])
    cells = layouts[0].size
    w = scen.weight_vector()
    burned = [sum(w[i] * int(reference_burned(lay, scen, i).sum()) for i in range(len(scen)))
              for lay in layouts]
    return 1.0 - np.array(burned, dtype=np.float64) / cells


# ---------------------------------------------------------------------------- vectorised

def _pack(bits: torch.Tensor) -> torch.Tensor:
    """(K, ...) bool -> (..., ceil(K/64)) int64: scenario k is bit k % 64 of word k // 64."""
    k = bits.shape[0]
    words = -(-k // 64)
    padded = torch.zeros((words * 64, *bits.shape[1:]), dtype=torch.int64)
    padded[:k] = bits.to(torch.int64)
    padded = padded.view(words, 64, *bits.shape[1:])
    out = torch.zeros((words, *bits.shape[1:]), dtype=torch.int64)
    for b in range(64):
        out |= padded[:, b] << b
    return out.movedim(0, -1).contiguous()


class FireSimulator:
    """Vectorised spread of many layouts in K shared scenarios (torch, on `device`).

    `burned_counts(layouts)` -> (N, K) burned cells; `fitness(layouts)` -> (N,) mean non-burned
    share; `burned_maps(layout)` -> (K, H, W) bool of one layout (for pictures).
    """

    def __init__(self, scen: Scenarios, device: torch.device | str | None = None,
                 batch_size: int = 128, threads: int | None = 1):
        self.scen = scen
        self.threads = threads
        self.device = torch.device(device) if device is not None else get_device()
        self.batch_size = batch_size
        k, _, h, w = scen.open.shape
        self.k, self.h, self.w = k, h, w
        self.words = -(-k // 64)
        opened = torch.from_numpy(scen.open)
        # (4, H*W*words): the open-edge words of each direction, cell-major, words innermost
        self.open = torch.stack([_pack(opened[:, d]).reshape(-1) for d in range(4)]).to(self.device)
        ign = torch.zeros((k, h * w), dtype=torch.bool)
        ign[torch.arange(k), torch.as_tensor(scen.ignition)] = True
        self.ignition = _pack(ign).reshape(-1).to(self.device)  # (H*W*words,)
        self.duration = scen.duration
        # weighted scenarios: weights are constant within aligned blocks of `group` scenarios
        # (the largest power of two <= 64 for which they are), one weight per block
        self.group, self.group_weights = None, None
        if scen.weights is not None:
            weights = scen.weight_vector()
            self.group = next(g for g in (64, 32, 16, 8, 4, 2, 1)
                              if k % g == 0 and np.allclose(weights.reshape(-1, g), weights.reshape(-1, g)[:, :1]))
            self.group_weights = torch.as_tensor(weights.reshape(-1, self.group).sum(1), dtype=torch.float64,
                                                 device=self.device)

    @contextlib.contextmanager
    def _threads(self):
        """Run on `threads` CPU threads: the bitwise steps are small, and on a busy 2-core
        machine OpenMP's thread hand-offs cost more than they save (100x slower measured)."""
        if self.threads is None or self.device.type != "cpu":
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _spread(self, layouts: torch.Tensor) -> torch.Tensor:
        """Final burned words (N, H*W*words) of a batch of layouts (N, H, W)."""
        with self._threads():
            return self._spread_words(layouts)

    def _spread_words(self, layouts: torch.Tensor) -> torch.Tensor:
        n = layouts.shape[0]
        nw, row = self.words, self.w * self.words
        not_fb = (~layouts.reshape(n, -1).bool()).to(torch.int64).neg_()   # -1 = all bits set
        not_fb = not_fb.repeat_interleave(nw, dim=1)
        burned = self.ignition.unsqueeze(0) & not_fb
        o_s, o_n, o_e, o_w = self.open
        new, tmp = torch.empty_like(burned), torch.empty_like(burned)
        # (destination slice, source slice, open words of the destination) per direction
        moves = ((slice(row, None), slice(None, -row), o_s[row:]),     # south, from the row above
                 (slice(None, -row), slice(row, None), o_n[:-row]),    # north, from the row below
                 (slice(nw, None), slice(None, -nw), o_e[nw:]),        # east, from the west neighbour
                 (slice(None, -nw), slice(nw, None), o_w[:-nw]))       # west, from the east neighbour
        for step in range(self.duration):
            new.copy_(burned)
            for dst, src, opened in moves:
                t = tmp[:, dst]
                torch.bitwise_and(burned[:, src], opened, out=t)
                new[:, dst] |= t
            new &= not_fb
            burned, new = new, burned
            if step % 4 == 3 and torch.equal(new, burned):  # no cell caught fire: done
                break
        return burned

    @staticmethod
    def _popcount(words: torch.Tensor) -> torch.Tensor:
        """Set bits of int64 words (SWAR), summed over the last dimension."""
        x = words - ((words >> 1) & 0x5555555555555555)
        x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
        return x.view(torch.uint8).reshape(*words.shape[:-1], -1).sum(-1, dtype=torch.int64)

    def burned_counts(self, layouts) -> torch.Tensor:
        """Burned cells per layout and scenario, (N, K) int64."""
        layouts = torch.as_tensor(layouts).to(self.device).reshape(-1, self.h, self.w)
        out = []
        for start in range(0, len(layouts), self.batch_size):
            words = self._spread(layouts[start : start + self.batch_size])
            n = words.shape[0]
            bits = words.view(n, self.h * self.w, self.words)
            # unpack scenario bits: (N, cells, words, 64) -> per-scenario counts
            shifts = torch.arange(64, device=self.device)
            per = ((bits.unsqueeze(-1) >> shifts) & 1).sum(1).reshape(n, -1)[:, : self.k]
            out.append(per)
        return torch.cat(out)

    def group_counts(self, layouts, group: int) -> torch.Tensor:
        """Burned cells summed over aligned blocks of `group` scenarios (a power of two <= 64
        that divides K): (N, K / group) int64, block j holding scenarios j*group .. (j+1)*group - 1."""
        if group not in (1, 2, 4, 8, 16, 32, 64) or self.k % group:
            raise ValueError(f"group must be a power of two <= 64 dividing K = {self.k}, got {group}")
        layouts = torch.as_tensor(layouts).to(self.device).reshape(-1, self.h, self.w)
        out = []
        for start in range(0, len(layouts), self.batch_size):
            words = self._spread(layouts[start : start + self.batch_size])
            with self._threads():
                out.append(self._group_popcount(words, group))
        return torch.cat(out)[:, : self.k // group]

    def _group_popcount(self, words: torch.Tensor, group: int) -> torch.Tensor:
        """(N, cells*words) burned words -> (N, words * 64 / group) counts per block."""
        n = words.shape[0]
        bits = words.view(n, self.h * self.w, self.words)
        if group == 64:
            return self._popcount(bits.transpose(1, 2).contiguous())
        mask = (1 << group) - 1
        per = [self._popcount(((bits >> (j * group)) & mask).transpose(1, 2).contiguous())
               for j in range(64 // group)]                      # each (N, words)
        return torch.stack(per, dim=2).reshape(n, -1)

    def fitness(self, layouts) -> torch.Tensor:
        """Share of non-burned cells averaged over the K scenarios (with the scenarios'
        weights, if any), (N,) float64 in [0, 1]."""
        if self.group_weights is not None:
            counts = self.group_counts(layouts, self.group).double()
            return 1.0 - counts @ self.group_weights / (self.group * self.h * self.w)
        layouts = torch.as_tensor(layouts).to(self.device).reshape(-1, self.h, self.w)
        out = []
        for start in range(0, len(layouts), self.batch_size):
            words = self._spread(layouts[start : start + self.batch_size])
            with self._threads():
                burned = self._popcount(words)
            out.append(1.0 - burned.double() / (self.k * self.h * self.w))
        return torch.cat(out)

    def burned_maps(self, layout) -> torch.Tensor:
        """(K, H, W) bool: where one layout burned in each scenario."""
        layout = torch.as_tensor(layout).to(self.device).reshape(1, self.h, self.w)
        words = self._spread(layout).view(self.h * self.w, self.words)
        shifts = torch.arange(64, device=self.device)
        bits = ((words.unsqueeze(-1) >> shifts) & 1).reshape(self.h * self.w, -1)[:, : self.k]
        return bits.T.reshape(self.k, self.h, self.w).bool().cpu()


# ---------------------------------------------------------------------------- layouts

def random_layouts(n: int, firebreaks: int = 20, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """`n` uniformly random layouts (n, size, size) float32 with exactly `firebreaks` ones."""
    g = torch.Generator().manual_seed(seed)
    keys = torch.rand(n, size * size, generator=g)
    idx = keys.topk(firebreaks, dim=1).indices
    out = torch.zeros(n, size * size)
    out.scatter_(1, idx, 1.0)
    return out.view(n, size, size)


def top_k_layout(scores: torch.Tensor, firebreaks: int = 20) -> torch.Tensor:
    """Project scores (N, H, W) (e.g. decoded probabilities) to valid layouts: ones at the
    `firebreaks` highest-scoring cells of each (ties broken by the lower cell index)."""
    n, h, w = scores.shape[0], scores.shape[-2], scores.shape[-1]
    flat = scores.reshape(n, h * w).float()
    # a tiny decreasing ramp breaks ties deterministically without reordering distinct scores
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    out = torch.zeros(n, h * w, device=scores.device)
    out.scatter_(1, order[:, :firebreaks], 1.0)
    return out.view(n, h, w)


def is_valid(layouts: torch.Tensor, firebreaks: int = 20) -> torch.Tensor:
    """(N,) bool: binary layouts with exactly `firebreaks` ones."""
    flat = torch.as_tensor(layouts).reshape(len(layouts), -1)
    return ((flat == 0) | (flat == 1)).all(1) & (flat.sum(1) == firebreaks)


@dataclass(frozen=True)
class Forest:
    """Everything that defines the fitness function: landscape seed, spread parameters,
    K and the scenario seed. `simulator()` builds the vectorised simulator."""

    landscape_seed: int = 0
    params: FireParams = FireParams()
    k: int = 100
    scenario_seed: int = 1

    def landscape(self) -> Landscape:
        return make_landscape(self.landscape_seed)

    def scenarios(self) -> Scenarios:
        return draw_scenarios(self.landscape(), self.params, self.k, self.scenario_seed)

    def simulator(self, device=None, threads: int | None = 1) -> "FireSimulator":
        return FireSimulator(self.scenarios(), device=device, threads=threads)

    def describe(self) -> dict:
        """A JSON-able description, for cache keys."""
        return {"landscape_seed": self.landscape_seed, "params": asdict(self.params),
                "k": self.k, "scenario_seed": self.scenario_seed}
