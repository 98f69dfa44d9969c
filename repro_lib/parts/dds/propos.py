"""ProPos (Huang et al. 2022, "Learning representation for clustering via prototype scattering
and positive sampling"), with DDS prepended as in Section 4.1 of document 000.

Written from the paper and its public code (Hzzone/ProPos: `models/propos/byol_wrapper.py`,
`models/basic_template.py`, `config/cifar10_r18_propos.yml`), not copied:

* backbone: a ResNet with the CIFAR stem (3x3 convolution, stride 1, no max-pooling), basic
  blocks, widths w, 2w, 4w, 8w (w = 64 and blocks (2, 2, 2, 2) is ProPos's ResNet-18,
  (3, 4, 6, 3) the ResNet-34 the document uses for CIFAR); its first layer normalises the
  images with CIFAR-10's mean and standard deviation (ProPos's `normalize`);
* online branch: backbone, projector MLP (Linear, BatchNorm, ReLU, Linear: 4096 hidden, 256
  out in ProPos), predictor MLP of the same shape (weights drawn N(0, 0.01), as ProPos);
  target branch: an EMA copy of backbone and projector (`ema_update`, momentum 0.996);
* loss (ProPos's `forward_loss`, symmetric over the two views): the BYOL term
  -2 cos(predictor(q + noise), k) with q the online projection and noise ~ N(0, latent_std^2)
  ("positive sampling", off during warm-up), plus `cluster_weight` times the prototype
  scattering loss (`prototype_scattering_loss`: InfoNCE between the online and target centres
  of the batch's k-means pseudo-classes, off during warm-up);
* the pseudo-labels: k-means (scikit-learn's `KMeans`, k-means++) on the L2-normalised target
  features of all training images, before training and after every epoch (ProPos:
  `reassign: 1`; it runs a cosine-metric k-means, equal to Euclidean k-means on normalised
  features up to the centre normalisation);
* optimiser: SGD (momentum 0.9, weight decay 5e-4), learning rate lr x batch / 256 with a
  linear warm-up and then ProPos's cosine (`cosine_annealing_LR`, which divides by the total
  epochs, so it does not reach 0), the predictor at 10x the learning rate.

Not reproduced: the shuffled batch norm and all-gather of multi-GPU training (one device
here); the EMA update runs after the optimiser step (BYOL's order; ProPos updates just before
it, a difference of one step).

DDS (the document: "the DDS module g was attached to the ProPos model f" and nothing more;
our reading, a knob where it matters): g, a U-Net selector (`networks.UNet`, C = 16 in the
document), masks each augmented view, M a fraction of the 32 x 32 pixel grid (per pixel,
shared by the colour channels, as in Table 5); the masked view feeds the online branch (g
learns through it) and, detached, the target branch (`dds_target=False`: the target sees the
unmasked view). Training uses Eqs. 4 and 6 (kappa = 0.1, epsilon = 0.1), evaluation Eq. 3 and
exactly M pixels, so the features k-means clusters are those of masked images.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from torch import nn
from tqdm.auto import tqdm

from ...metrics.clustering import adjusted_rand_index, cluster_accuracy, normalized_mutual_info
from ...models import register_family
from ...objectives import describe_fields
from .augment import Augment
from .model import DDS
from .networks import UNet
from .selection import EPSILON, KAPPA_TRAIN

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)  # ProPos's values
ABSENT_LOGIT = -10.0  # ProPos fills the logits of pseudo-classes absent from the batch with -10


# ----------------------------------------------------------------------------- networks


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Sequential() if stride == 1 and cin == cout else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """Images (B, 3, H, W) in [0, 1] -> features (B, 8 w): normalisation, the CIFAR stem
    (3x3 conv, stride 1, no max-pool), four stages of basic blocks (strides 1, 2, 2, 2),
    global average pooling."""

    def __init__(self, blocks=(2, 2, 2, 2), width: int = 64):
        super().__init__()
        if len(blocks) != 4 or min(blocks) < 1 or width < 1:
            raise ValueError(f"a ResNet needs 4 stages of >= 1 block and width >= 1, got {blocks}, {width}")
        self.register_buffer("mean", torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CIFAR10_STD).view(1, 3, 1, 1))
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        layers, cin = [], width
        for i, n in enumerate(blocks):
            cout = width * 2 ** i
            for j in range(n):
                layers.append(BasicBlock(cin, cout, 2 if (j == 0 and i > 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.out_dim = cin
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1)


def mlp(cin: int, hidden: int, cout: int) -> nn.Sequential:
    """ProPos's projector / predictor: Linear, BatchNorm1d, ReLU, Linear."""
    return nn.Sequential(nn.Linear(cin, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))


@register_family("propos")
class ProPos(nn.Module):
    """The online / target pair of ProPos, optionally behind a DDS selector (`dds_m` > 0
    pixels kept per view; 0 = plain ProPos)."""

    def __init__(self, blocks=(2, 2, 2, 2), width: int = 64, hidden: int = 4096, feat_dim: int = 256,
                 dds_m: int = 0, dds_channels: int = 16, dds_depth: int = 3, dds_target: bool = True,
                 kappa: float = KAPPA_TRAIN, epsilon: float = EPSILON):
        super().__init__()
        self.encoder_q = CifarResNet(tuple(blocks), width)
        self.projector_q = mlp(self.encoder_q.out_dim, hidden, feat_dim)
        self.predictor = mlp(feat_dim, hidden, feat_dim)
        for m in self.predictor.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
        self.encoder_k = copy.deepcopy(self.encoder_q)
        self.projector_k = copy.deepcopy(self.projector_q)
        for p in self.target_parameters():
            p.requires_grad_(False)
        self.dds_target = bool(dds_target)
        self.dds = (DDS(UNet(3, 1, dds_channels, dds_depth), nn.Identity(), int(dds_m), "pixel",
                        kappa=kappa, epsilon=epsilon) if dds_m else None)

    def online_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder_q.parameters(), *self.projector_q.parameters()]

    def target_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder_k.parameters(), *self.projector_k.parameters()]

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the online branch sees, what the target branch sees) of images x: both x
        without DDS; with DDS, g's masked x (train mode: Eqs. 4 and 6; eval: Eq. 3, exactly M)
        for the online branch and its detached copy (or x, `dds_target=False`) for the target."""
        if self.dds is None:
            return x, x
        masked = self.dds.select(x).masked
        return masked, (masked.detach() if self.dds_target else x)

    def online(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector_q(self.encoder_q(x))

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projector_k(self.encoder_k(x)), dim=1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The features k-means clusters: L2-normalised target projections of (masked) x."""
        return self.target(self.views(x)[1])


def ema_update(target: list[nn.Parameter], online: list[nn.Parameter], momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, in place."""
    with torch.no_grad():
        for t, o in zip(target, online):
            t.mul_(momentum).add_(o.detach(), alpha=1 - momentum)


# ----------------------------------------------------------------------------- loss


def cluster_centres(z: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """(k, D): the L2-normalised mean of the rows of z in each pseudo-class (zero rows for
    classes absent from the batch), as ProPos's `compute_centers`."""
    weight = F.one_hot(labels, k).T.to(z.dtype)
    weight = weight / weight.sum(1, keepdim=True).clamp_min(1)
    return F.normalize(weight @ z, dim=1)


def prototype_scattering_loss(q_centres: torch.Tensor, k_centres: torch.Tensor, present: torch.Tensor,
                              temperature: float) -> torch.Tensor:
    """ProPos's `compute_cluster_loss`: for each pseudo-class i present in the batch,
    -log softmax_j(l_ij)[i] with l_ii = <q_i, k_i> / T (online centre against target centre)
    and l_ij = <q_i, q_j> / T for j != i; logits of absent classes are -10; mean over the
    present classes."""
    logits = q_centres @ q_centres.T / temperature
    diagonal = (q_centres * k_centres).sum(1) / temperature
    eye = torch.eye(len(logits), dtype=torch.bool, device=logits.device)
    logits = torch.where(eye, diagonal[:, None].expand_as(logits), logits)
    logits = logits.masked_fill(~present[None, :], ABSENT_LOGIT)
    per_class = torch.logsumexp(logits, 1) - logits.diagonal()
    return (per_class * present).sum() / present.sum().clamp_min(1)


def byol_term(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ProPos's form of BYOL's loss: -2 mean cos(prediction, target) (2 less than BYOL's)."""
    return -2 * F.cosine_similarity(prediction, target, dim=1).mean()


@dataclass(frozen=True)
class ProPosLoss:
    """The symmetric ProPos loss of two views (see the module); `warm` = past the warm-up."""

    temperature: float = 0.5
    cluster_weight: float = 0.1
    latent_std: float = 0.001

    def __call__(self, model: ProPos, v1: torch.Tensor, v2: torch.Tensor, labels: torch.Tensor, k: int,
                 warm: bool = True) -> dict[str, torch.Tensor]:
        (o1, t1), (o2, t2) = model.views(v1), model.views(v2)
        q1, q2 = model.online(o1), model.online(o2)
        k1, k2 = model.target(t1), model.target(t2)
        present = torch.bincount(labels, minlength=k) > 0
        byol, cluster = 0.0, 0.0
        for q, kk in ((q1, k2), (q2, k1)):
            noisy = q + torch.randn_like(q) * self.latent_std if warm else q
            byol = byol + 0.5 * byol_term(model.predictor(noisy), kk)
            cluster = cluster + 0.5 * prototype_scattering_loss(
                cluster_centres(F.normalize(q, dim=1), labels, k), cluster_centres(kk, labels, k),
                present, self.temperature)
        loss = byol + (self.cluster_weight * cluster if warm else 0.0)
        return {"loss": loss, "byol": byol.detach(), "cluster": cluster.detach()}

    describe = describe_fields


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class ProPosSettings:
    """The training loop's settings (ProPos's CIFAR config where not stated otherwise)."""

    epochs: int
    batch_size: int = 128
    lr: float = 0.05  # per 256 images (scaled by batch_size / 256, as ProPos)
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup_epochs: int = 50
    predictor_lr_mult: float = 10.0
    ema: float = 0.996
    n_clusters: int = 10
    kmeans_n_init: int = 3
    augment: Augment = field(default_factory=Augment)
    seed: int = 0


def propos_lr(step: int, steps_per_epoch: int, s: ProPosSettings) -> float:
    """ProPos's `cosine_annealing_LR` at iteration `step` (1-based): linear warm-up over
    `warmup_epochs`, then 0.5 lr (1 + cos(pi (epoch - warmup) / epochs)) (sic: / epochs)."""
    base = s.lr * s.batch_size / 256
    epoch = step / steps_per_epoch
    if epoch < s.warmup_epochs:
        return base * epoch / s.warmup_epochs
    return 0.5 * base * (1 + math.cos((epoch - s.warmup_epochs) * math.pi / s.epochs))


@torch.no_grad()
def extract_features(model: ProPos, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """`model.features` of every image of x (eval mode), in batches; back to the model's mode."""
    was = model.training
    model.eval()
    out = torch.cat([model.features(x[i:i + batch]) for i in range(0, len(x), batch)])
    model.train(was)
    return out


def kmeans_labels(features: torch.Tensor, k: int, seed: int, n_init: int = 3) -> np.ndarray:
    """scikit-learn k-means (k-means++) of the rows of `features`: (N,) int64 labels."""
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    return km.fit_predict(features.detach().cpu().double().numpy()).astype(np.int64)


def clustering_scores(classes, clusters) -> dict[str, float]:
    """NMI, ACC (Hungarian) and ARI, in [0, 1], from core's metrics."""
    return {"nmi": normalized_mutual_info(classes, clusters), "acc": cluster_accuracy(classes, clusters),
            "ari": adjusted_rand_index(classes, clusters)}


def training_step(model: ProPos, objective: ProPosLoss, optimiser: torch.optim.Optimizer, v1, v2,
                  labels: torch.Tensor, k: int, warm: bool, ema: float) -> dict[str, torch.Tensor]:
    """One SGD step of the online branch (and g) on two views, then the EMA of the target."""
    terms = objective(model, v1, v2, labels, k, warm)
    if not torch.isfinite(terms["loss"]):
        raise FloatingPointError(f"ProPos loss is not finite ({ {n: float(v) for n, v in terms.items()} }); "
                                 "lower the learning rate")
    optimiser.zero_grad(set_to_none=True)
    terms["loss"].backward()
    optimiser.step()
    ema_update(model.target_parameters(), model.online_parameters(), ema)
    return terms


def make_optimiser(model: ProPos, s: ProPosSettings) -> torch.optim.SGD:
    """SGD over the online branch and g (group "online") and the predictor (group "predictor")."""
    online = [*model.online_parameters(), *(model.dds.parameters() if model.dds is not None else [])]
    return torch.optim.SGD([{"params": online, "name": "online"},
                            {"params": list(model.predictor.parameters()), "name": "predictor"}],
                           lr=0.0, momentum=s.momentum, weight_decay=s.weight_decay)


def propos_loop(model: ProPos, objective: ProPosLoss, data, s: ProPosSettings, desc: str = "ProPos",
                progress: bool = True, val=None) -> dict[str, list[float]]:
    """ProPos's training (a `train.fit` loop): `data` is (images, classes); the classes are
    read only by the per-epoch monitor (NMI / ACC / ARI of the pseudo-labels, as ProPos logs
    them), never by the loss. History: per step loss / byol / cluster / lr; per epoch
    epoch_nmi / epoch_acc / epoch_ari (epoch 0: before training)."""
    x, y = data
    n, k = len(x), s.n_clusters
    steps_per_epoch = n // s.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"{n} images give no batch of {s.batch_size}; lower the batch size")
    views = torch.Generator().manual_seed(s.seed + 7919)
    order = torch.Generator().manual_seed(s.seed)
    optimiser = make_optimiser(model, s)
    history: dict[str, list[float]] = {}

    def relabel():
        labels = kmeans_labels(extract_features(model, x), k, s.seed, s.kmeans_n_init)
        for name, value in clustering_scores(y.cpu().numpy(), labels).items():
            history.setdefault(f"epoch_{name}", []).append(value)
        return torch.as_tensor(labels, device=x.device)

    labels = relabel()
    step = 0
    model.train()
    bar = tqdm(total=s.epochs, desc=desc, unit="epoch", disable=not progress, leave=False)
    for epoch in range(1, s.epochs + 1):
        warm = epoch > s.warmup_epochs
        perm = torch.randperm(n, generator=order).to(x.device)
        for b in range(steps_per_epoch):
            step += 1
            lr = propos_lr(step, steps_per_epoch, s)
            for group in optimiser.param_groups:
                group["lr"] = lr * (s.predictor_lr_mult if group["name"] == "predictor" else 1.0)
            index = perm[b * s.batch_size:(b + 1) * s.batch_size]
            xb = x[index]
            terms = training_step(model, objective, optimiser, s.augment(xb, views), s.augment(xb, views),
                                  labels[index], k, warm, s.ema)
            for name, value in terms.items():
                history.setdefault(name, []).append(float(value.detach()))
            history.setdefault("lr", []).append(lr)
        labels = relabel()
        model.train()
        bar.update()
        bar.set_postfix(loss=f"{np.mean(history['loss'][-steps_per_epoch:]):.3f}",
                        nmi=f"{history['epoch_nmi'][-1]:.3f}")
    bar.close()
    model.eval()
    return history
