"""Recipes of the influential-factors part (document 002, an MEng thesis): beta-VAE, beta-TCVAE
and MSVAE on CelebA faces and the Taiwan credit-default table; the thesis's FactorVAE variant,
MIG and a KS fidelity test.

The thesis gives no epochs, batch size or image beta; it trains "based on" Abdi et al.'s
disentanglement-pytorch. Our choices, said in the chapters: batch 64 (faces) and
`s.table_batch` (table), Adam, beta = `s.image_beta` on faces (Chapter 5 keeps beta = 2),
Chen et al.'s minibatch-weighted-sampling estimator, Bernoulli (cross-entropy) reconstruction
loss on [0, 1] data as in [3].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm.auto import tqdm

from ...data import celeba_data_id, celeba_source, fingerprint, load_celeba, load_mnist
from .credit import load_credit
from .dsprites import DSpritesLike
from ...device import get_device
from .disentanglement import FactorVAEResult, mig, thesis_factorvae
from ...models.vae import posterior_means, reconstructions, reparameterise
from .msvae import MSVAE, MSVAEStage2ELBO
from ...models.vae import gaussian_kl_per_dim
from ...objectives import BetaTCVAE, BetaVAE, bernoulli_nll
from ...train import FitResult, TrainSettings, fit

PART = "influential_factors"
FACE_BATCH = 64
# Rows of codes each FactorVAE vote decodes and re-encodes (Listing C.3 uses "Y_all", all
# encoded data, of unstated size; our choice keeps 1000 votes affordable on a CPU).
TABLE_VOTE_ROWS, FACE_VOTE_ROWS = 100, 32
# Ground-truth factors of the table for MIG (Section 5.2.2); AGE is binned by decade.
MIG_FACTORS = ("SEX", "EDUCATION", "MARRIAGE", "AGE")
AGE_EDGES = (30, 40, 50, 60)
BILL_COLUMNS = ("BILL_AMT1", "BILL_AMT2", "BILL_AMT3", "BILL_AMT4")
# A change of the mean KS fidelity smaller than this is treated as no change (our choice).
KS_MARGIN = 0.005

PAPER_TABLE_51 = pd.DataFrame(  # CelebA, beta = 2
    [(10, 1e-3, 0.939, 0.940), (10, 1e-4, 1.000, 1.000), (20, 1e-3, 0.271, 0.274),
     (20, 1e-4, 1.000, 1.000), (25, 1e-3, 0.239, 0.234), (25, 1e-4, 0.505, 0.501)],
    columns=["LD", "lr", "train accuracy", "eval accuracy"])
PAPER_TABLE_52 = pd.DataFrame(  # table, beta = 2
    [(5, 1e-3, 0.457, 0.427), (5, 1e-4, 0.801, 0.811), (5, 1e-5, 0.591, 0.578),
     (10, 1e-3, 0.333, 0.276), (10, 1e-4, 0.293, 0.307), (10, 1e-5, 0.148, 0.126),
     (20, 1e-3, 0.156, 0.119), (20, 1e-4, 0.116, 0.089), (20, 1e-5, 0.113, 0.110)],
    columns=["LD", "lr", "train accuracy", "eval accuracy"])
# Table B.1: (LD, lr, beta, MIG, FactorVAE train, FactorVAE eval); Table 5.3 is a selection.
PAPER_TABLE_B1 = pd.DataFrame([
    (4, 1e-5, 2, 0.014226, 0.533, 0.518), (4, 1e-5, 3, 0.014366, 0.518, 0.498),
    (4, 1e-5, 4, 0.009906, 0.498, 0.492), (4, 1e-5, 5, 0.013453, 0.523, 0.508),
    (4, 1e-5, 10, 0.024472, 0.523, 0.490), (4, 1e-5, 20, 0.023565, 0.505, 0.520),
    (5, 1e-5, 2, 0.014022, 0.431, 0.387), (5, 1e-5, 3, 0.014086, 0.403, 0.402),
    (5, 1e-5, 4, 0.013480, 0.422, 0.396), (5, 1e-5, 5, 0.013282, 0.421, 0.364),
    (5, 1e-5, 10, 0.006120, 0.373, 0.394), (5, 1e-5, 20, 0.017452, 0.416, 0.405),
    (10, 1e-5, 2, 0.014839, 0.419, 0.381), (10, 1e-5, 3, 0.012480, 0.386, 0.421),
    (10, 1e-5, 4, 0.003414, 0.401, 0.412), (10, 1e-5, 5, 0.005514, 0.400, 0.375),
    (10, 1e-5, 10, 0.025637, 0.410, 0.418), (10, 1e-5, 20, 0.002093, 0.403, 0.398),
    (4, 1e-4, 2, 0.014322, 0.531, 0.538), (4, 1e-4, 3, 0.014393, 0.657, 0.665),
    (4, 1e-4, 4, 0.013897, 0.519, 0.513), (4, 1e-4, 5, 0.013484, 0.512, 0.533),
    (4, 1e-4, 10, 0.012154, 0.420, 0.397), (4, 1e-4, 20, 0.037757, 0.497, 0.468),
    (5, 1e-4, 2, 0.014818, 0.619, 0.590), (5, 1e-4, 3, 0.014417, 0.457, 0.447),
    (5, 1e-4, 4, 0.037262, 0.388, 0.374), (5, 1e-4, 5, 0.013254, 0.409, 0.392),
    (5, 1e-4, 10, 0.008807, 0.420, 0.412), (5, 1e-4, 20, 0.036493, 0.248, 0.243),
    (10, 1e-4, 2, 0.012585, 0.191, 0.215), (10, 1e-4, 3, 0.014619, 0.219, 0.210),
    (10, 1e-4, 4, 0.014191, 0.214, 0.198), (10, 1e-4, 5, 0.013754, 0.181, 0.189),
    (10, 1e-4, 10, 0.037226, 0.241, 0.214), (10, 1e-4, 20, 0.033500, 0.227, 0.182),
], columns=["LD", "lr", "beta", "MIG", "train accuracy", "eval accuracy"])


# ----------------------------------------------------------------------------- data


@dataclass
class Table:
    """The credit table: `x` (N, 23) min-max scaled float32 on the device, the raw `features`
    (N, 23) int64 frame, its `scaler`, integer `factors` (N, 4) for MIG and a cache `data_id`."""

    x: torch.Tensor
    features: pd.DataFrame
    scaler: object
    factors: np.ndarray
    data_id: str


def age_bins(age) -> np.ndarray:
    """AGE (years) -> decade bin 0..4: <30, 30-39, 40-49, 50-59, >=60."""
    return np.digitize(np.asarray(age), AGE_EDGES)


def load_table(s) -> Table:
    data = load_credit(limit=s.table_n)
    x = torch.from_numpy(data.scaler.transform(data.features).to_numpy(np.float32)).to(get_device())
    f = data.features
    factors = np.stack([f.SEX, f.EDUCATION, f.MARRIAGE, age_bins(f.AGE)], 1)
    return Table(x, data.features, data.scaler, factors,
                 f"credit_default:{fingerprint('credit_default')}:[:{s.table_n}]:minmax")


@dataclass
class Faces:
    """64x64 CelebA faces on the device: training split and held-out split (last 10%)."""

    train_x: torch.Tensor
    test_x: torch.Tensor
    source: str
    data_id: str


def load_faces(s) -> Faces:
    """The first `s.celeba_n` faces of full CelebA when registered, else of the 2,000 subset."""
    x, _, _ = load_celeba(size=64, limit=s.celeba_n, source="auto")
    n_test = max(2, len(x) // 10)
    dev = get_device()
    return Faces(x[:-n_test].to(dev), x[-n_test:].to(dev), celeba_source("auto"),
                 celeba_data_id("auto", 64, s.celeba_n) + f":train[:-{n_test}]")


def load_mnist_2d(s) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """(train images, test images, test labels, data_id): 32x32 MNIST on the device."""
    dev = get_device()
    x, _ = load_mnist("train", size=32, limit=s.mnist_n)
    xt, yt = load_mnist("test", size=32, limit=2000)
    return x.to(dev), xt.to(dev), yt, f"mnist:{fingerprint('mnist')}:train[:{s.mnist_n}]:32px"


# ----------------------------------------------------------------------------- training


def table_spec(ld: int) -> dict:
    return {"family": "tabular_vae", "input_dim": 23, "latent_dim": int(ld)}


def face_spec(ld: int, channels: int = 3) -> dict:
    return {"family": "face_vae", "latent_dim": int(ld), "channels": channels}


def vae_objective(kind: str, n_data: int, beta: float):
    """beta on the total correlation ("tcvae", Chen et al., minibatch-weighted sampling over
    `n_data` training examples) or on the whole KL ("betavae")."""
    if kind == "tcvae":
        return BetaTCVAE(n_data=n_data, beta=float(beta))
    if kind == "betavae":
        return BetaVAE(beta=float(beta))
    raise ValueError(f"kind must be 'tcvae' or 'betavae', got {kind!r}")


def train_table(table: Table, s, ld: int, lr: float, beta: float, seed: int = 0,
                progress: bool = False, kind: str = "tcvae") -> FitResult:
    """A beta-TCVAE ("tcvae", beta on the total correlation) or beta-VAE ("betavae", beta on
    the whole KL) with the Listings C.1-C.2 networks on the scaled table (cached)."""
    return fit(table_spec(ld), vae_objective(kind, len(table.x), beta), table.x,
               table.data_id, TrainSettings(epochs=s.table_epochs, batch_size=s.table_batch,
                                            lr=float(lr), seed=seed),
               desc=f"table {kind} LD={ld} lr={lr:g} beta={beta:g}", progress=progress)


def train_faces(faces: Faces, s, ld: int, lr: float, kind: str = "tcvae") -> FitResult:
    """A beta-TCVAE ("tcvae") or beta-VAE ("betavae") at beta = `s.image_beta` on the faces."""
    return fit(face_spec(ld), vae_objective(kind, len(faces.train_x), s.image_beta), faces.train_x,
               faces.data_id, TrainSettings(epochs=s.image_epochs, batch_size=FACE_BATCH, lr=float(lr)),
               desc=f"faces {kind} LD={ld} lr={lr:g}")


# Stage 2's image decoder width (channels of its 3x3 convolutions at 64x64; our choice).
MSVAE_WIDTH = 32


def face_msvae_spec(s) -> dict:
    return {"family": "msvae_faces", "latent_dim": int(s.image_ld), "width": MSVAE_WIDTH}


def table_msvae_spec(ld: int) -> dict:
    return {"family": "msvae_tabular", "input_dim": 23, "latent_dim": int(ld)}


def train_msvae(stage1: FitResult, x: torch.Tensor, data_id: str, spec: dict, epochs: int,
                batch_size: int, lr: float) -> MSVAE:
    """Stage 2 trained on (x, y = stage 1's reconstruction), cached under stage 1's key."""
    y = reconstructions(stage1.model, x)
    stage2 = fit(spec, MSVAEStage2ELBO(), (x, y), f"{data_id}:stage1={stage1.key}",
                 TrainSettings(epochs=epochs, batch_size=batch_size, lr=float(lr)), desc="MSVAE stage 2")
    return MSVAE(stage1.model, stage2.model)


def train_mnist_2d(x: torch.Tensor, data_id: str, s, beta: float) -> FitResult:
    """A beta-VAE with a 2-D latent space on 32x32 MNIST (Figures 1-1a and 2-1)."""
    return fit({"family": "burgess_vae", "latent_dim": 2}, BetaVAE(beta=float(beta)), x, data_id,
               TrainSettings(epochs=s.mnist_epochs, batch_size=128, lr=1e-3), desc=f"MNIST 2-D beta={beta:g}")


def mean_predictor_nll(x: torch.Tensor) -> float:
    """Bernoulli NLL (nats per row) of predicting every row by the column means: the loss of a
    VAE whose code carries no information (a collapsed posterior), for comparison."""
    return float(bernoulli_nll(x.mean(0, keepdim=True).expand_as(x), x))


def loss_per_epoch(history: dict, n: int, batch_size: int) -> np.ndarray:
    """Mean training loss of each epoch from a per-step history."""
    steps = max(1, n // batch_size)
    loss = np.asarray(history["loss"], dtype=float)
    return loss[: len(loss) // steps * steps].reshape(-1, steps).mean(1)


def decreasing_share(history: dict, segments: int = 10) -> float:
    """Cut the per-step training loss into `segments` equal runs of steps (fewer when there
    are fewer steps) and return the share of runs whose mean is below the previous run's."""
    loss = np.asarray(history["loss"], dtype=float)
    k = min(segments, len(loss))
    if k < 2:
        return float("nan")
    means = np.array([chunk.mean() for chunk in np.array_split(loss, k)])
    return float(np.mean(np.diff(means) < 0))


def plateau_then_drop(epoch_loss, window: int = 5, flat: float = 0.01, drop: float = 0.03) -> bool:
    """True when some `window`-epoch stretch improves the loss by less than `flat` (relative)
    and a later stretch of the same length improves it by more than `drop`."""
    v = np.asarray(epoch_loss, dtype=float)
    gains = [(v[i] - v[i + window]) / abs(v[i]) for i in range(len(v) - window)]
    for i, g in enumerate(gains):
        if g < flat and any(h > drop for h in gains[i + window:]):
            return True
    return False


# ----------------------------------------------------------------------------- evaluation


def mean_codes(model, x: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """Posterior means (N, K) as numpy, in eval mode."""
    return posterior_means(model, x, batch).cpu().numpy()


# A latent is "active" when its KL to the prior, averaged over the data, exceeds this (nats).
ACTIVE_KL = 0.1


@torch.no_grad()
def active_latents(model, x: torch.Tensor, batch: int = 1000) -> int:
    """How many latents carry information: mean KL(q(z_j|x) || N(0, 1)) over x above ACTIVE_KL."""
    model.eval()
    kl = sum(gaussian_kl_per_dim(*model.encode(x[i:i + batch])[:2]) * len(x[i:i + batch])
             for i in range(0, len(x), batch)) / len(x)
    return int((kl > ACTIVE_KL).sum())


@torch.no_grad()
def thesis_metric(model, x: torch.Tensor, rows: int, votes: int, seed: int = 0) -> FactorVAEResult:
    """The thesis's FactorVAE variant (Listing C.3) on sampled codes of `rows` random rows of x;
    `votes` train and `votes` eval votes."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(x), generator=g)[:rows].to(x.device)

    def encode_sample(batch):
        posterior = model.encode(batch)
        return reparameterise(posterior.mu, posterior.logvar, True)

    torch.manual_seed(seed)
    codes = encode_sample(x[idx])
    return thesis_factorvae(encode_sample, model.decode, codes, n_train_votes=votes,
                            n_eval_votes=votes, seed=seed)


SCORES = ("MIG", "FactorVAE")


def table_scores(model, table: Table, s, which=SCORES) -> dict:
    """Scores of a table model named in `which`: "MIG" (mean codes of the first `s.mig_n`
    rows vs SEX, EDUCATION, MARRIAGE, binned AGE), "FactorVAE" (the thesis's variant, train
    and eval accuracy, `s.votes` votes each)."""
    unknown = set(which) - set(SCORES)
    if unknown:
        raise ValueError(f"unknown scores {sorted(unknown)}; choose from {SCORES}")
    out = {}
    if "MIG" in which:
        n = min(s.mig_n, len(table.x))
        out["MIG"] = mig(mean_codes(model, table.x[:n]), table.factors[:n])
    if "FactorVAE" in which:
        fv = thesis_metric(model, table.x, TABLE_VOTE_ROWS, s.votes)
        out.update({"train accuracy": fv.train_accuracy, "eval accuracy": fv.eval_accuracy})
    return out


def reconstructed_table(model, table: Table) -> pd.DataFrame:
    """Reconstructions of every row, back in the table's units."""
    return table.scaler.inverse_transform(reconstructions(model, table.x, 1000).cpu().numpy())


def sweep(table: Table, s, grid, which=SCORES, extra=None) -> pd.DataFrame:
    """One row per (LD, lr, beta) of `grid`: trains (or loads) each model and scores it;
    `extra(model, (LD, lr, beta))`, when given, returns more columns for the row."""
    rows = []
    for ld, lr, beta in tqdm(list(grid), desc="models"):
        fit_ = train_table(table, s, ld, lr, beta)
        more = extra(fit_.model, (ld, lr, beta)) if extra else {}
        rows.append({"LD": ld, "lr": lr, "beta": beta, **table_scores(fit_.model, table, s, which), **more,
                     "active latents": active_latents(fit_.model, table.x),
                     "trained": "cached" if fit_.from_cache else f"{fit_.seconds:.0f} s"})
    return pd.DataFrame(rows)


def readable(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A copy for display: learning rates as 1e-04, other floats rounded, no "trained" column."""
    out = frame.drop(columns=[c for c in ("trained",) if c in frame]).round(digits)
    if "lr" in out:
        out["lr"] = frame["lr"].map(lambda v: f"{v:.0e}")
    return out


def spearman(x, y) -> float:
    return float(stats.spearmanr(x, y).statistic)


@torch.no_grad()
def table_traversal(model, row: torch.Tensor, dim: int, values) -> np.ndarray:
    """Decode row's mean code with latent `dim` set to each of `values`: (len(values), 23) scaled."""
    model.eval()
    z = model.encode_mean(row[None]).repeat(len(values), 1)
    z[:, dim] = torch.as_tensor(np.asarray(values, dtype=np.float32), device=z.device)
    return model.decode(z).cpu().numpy()


def linear_r2(x, y) -> float:
    """R^2 of the least-squares line y ~ a x + b (1 for a constant y: a flat line fits it)."""
    y = np.asarray(y, dtype=float)
    if np.ptp(y) < 1e-12:
        return 1.0
    return float(stats.linregress(x, y).rvalue ** 2)


@torch.no_grad()
def face_traversal(model, x: torch.Tensor, values) -> torch.Tensor:
    """Figure 4-1a: row d varies latent d of x's mean code over `values`; (L * len(values), C, H, W)."""
    model.eval()
    mu = model.encode_mean(x[None])
    L = mu.shape[1]
    z = mu.repeat(L * len(values), 1)
    v = torch.as_tensor(np.asarray(values, dtype=np.float32), device=mu.device)
    for d in range(L):
        z[d * len(values):(d + 1) * len(values), d] = v
    return model.decode(z)


def border_brightness(images: torch.Tensor, width: int = 6) -> np.ndarray:
    """Mean pixel value of a `width`-pixel frame around each (N, C, H, W) image (the
    background), (N,)."""
    mask = torch.ones(images.shape[-2:], dtype=torch.bool, device=images.device)
    mask[width:-width, width:-width] = False
    return images[..., mask].mean(-1).flatten(1).mean(1).cpu().numpy()


def across_image_variance(images: torch.Tensor) -> float:
    """Mean over pixels of the variance across images: how much a set of images varies."""
    return float(images.flatten(1).var(0).mean())


def to_32px(images) -> torch.Tensor:
    """(N, 1, 64, 64) dSprites-like images -> (N, 1, 32, 32) float32 by 2x2 average pooling."""
    return torch.nn.functional.avg_pool2d(torch.as_tensor(images), 2)


def dsprites_data(s) -> tuple[DSpritesLike, torch.Tensor, np.ndarray]:
    """The dSprites-like generator, `s.dsprites_n` images at 32x32 (N, 1, 32, 32) and their
    factor indices (N, 5)."""
    gen = DSpritesLike()
    images, factors = gen.make_dataset(s.dsprites_n, seed=0)
    return gen, to_32px(images).to(get_device()), factors


def train_dsprites(x: torch.Tensor, s, beta: float = 6.0, epochs: int | None = None) -> FitResult:
    """A beta-TCVAE with 10 latents (Burgess et al.'s 32x32 conv net) on dSprites-like images;
    epochs=0 gives the untrained network (the MIG baseline)."""
    return fit({"family": "burgess_vae", "latent_dim": 10}, BetaTCVAE(n_data=len(x), beta=beta), x,
               f"dsprites_like:seed0:n={s.dsprites_n}:32px",
               TrainSettings(epochs=s.dsprites_epochs if epochs is None else epochs,
                             batch_size=64, lr=1e-3), desc="dSprites-like beta-TCVAE")

