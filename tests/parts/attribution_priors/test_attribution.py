"""Batched Gradient SHAP (repro_lib.parts.attribution_priors.attribution) against captum.attr.GradientShap."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from repro_lib.models.burgess import BurgessVAE
from repro_lib.parts.attribution_priors.attribution import (
    captum_all_targets,
    captum_draws,
    compare_with_captum,
    gradient_shap,
    latent_saliency,
)


def assert_matches_captum(f, x, baselines, n_samples, stdevs, K):
    ref = captum_all_targets(f, x, baselines, n_samples, stdevs, K)
    idx, noise, alphas = captum_draws(
        x.shape[0], n_samples, baselines.shape[0], stdevs, x.shape[1:], 11, 22
    )
    ours = gradient_shap(
        f, x, baselines, n_samples=n_samples, stdevs=stdevs,
        alphas=alphas, baseline_idx=idx, noise=noise,
    )
    assert ours.shape == (K, *x.shape)
    scale = ref.abs().max().item()
    assert scale > 0
    # 1e-5 absolute on the raw values and 1e-5 relative to the attribution scale.
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=min(1e-5, 1e-5 * scale))
    return ours, ref


class SmallCNN(nn.Module):
    def __init__(self, K=4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.Tanh(),
            nn.Flatten(), nn.Linear(4 * 4 * 4, K),
        )

    def forward(self, x):
        return self.net(x)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.mark.parametrize("n_baselines,stdevs", [(1, 0.0), (2, 0.3)])
def test_small_cnn_matches_captum(n_baselines, stdevs):
    model = SmallCNN(K=4)
    x = torch.rand(8, 1, 8, 8)
    baselines = torch.zeros(1, 1, 8, 8) if n_baselines == 1 else torch.rand(n_baselines, 1, 8, 8)
    assert_matches_captum(model, x, baselines, n_samples=5, stdevs=stdevs, K=4)


@pytest.mark.parametrize("n_baselines,stdevs", [(1, 0.0), (2, 0.2)])
def test_burgess_encoder_matches_captum(n_baselines, stdevs):
    vae = BurgessVAE(latent_dim=3)
    x = torch.rand(8, 1, 32, 32)
    baselines = (
        torch.zeros(1, 1, 32, 32) if n_baselines == 1 else torch.rand(n_baselines, 1, 32, 32)
    )
    ours, ref = assert_matches_captum(vae.encode_mean, x, baselines, 5, stdevs, K=3)
    if n_baselines == 2:
        # The draws really matter: a different baseline choice/noise gives other values.
        idx, noise, alphas = captum_draws(8, 5, 2, stdevs, x.shape[1:], 12, 23)
        other = gradient_shap(vae.encode_mean, x, baselines, 5, stdevs,
                              alphas=alphas, baseline_idx=idx, noise=noise)
        assert not torch.allclose(other, ref, rtol=1e-3, atol=0)


def test_generator_draws_in_documented_order():
    model = SmallCNN(K=3)
    x = torch.rand(4, 1, 8, 8)
    baselines = torch.rand(3, 1, 8, 8)
    n, sd = 6, 0.1
    a = gradient_shap(model, x, baselines, n, sd, generator=torch.Generator().manual_seed(5))
    b = gradient_shap(model, x, baselines, n, sd, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    g = torch.Generator().manual_seed(5)
    idx = torch.randint(3, (4 * n,), generator=g)
    noise = torch.randn((4 * n, 1, 8, 8), generator=g) * sd
    alphas = torch.rand((4 * n,), generator=g)
    c = gradient_shap(model, x, baselines, n, sd, alphas=alphas, baseline_idx=idx, noise=noise)
    torch.testing.assert_close(a, c)


def test_no_graph_when_create_graph_false():
    vae = BurgessVAE(3)
    x = torch.rand(4, 1, 32, 32)
    gs = gradient_shap(vae.encode_mean, x, torch.zeros(1, 1, 32, 32), 5)
    assert not gs.requires_grad and gs.grad_fn is None
    gs2 = gradient_shap(vae.encode_mean, x.clone().requires_grad_(), torch.zeros(1, 1, 32, 32), 5)
    assert not gs2.requires_grad
    assert all(p.grad is None for p in vae.parameters())


def test_create_graph_gradient_matches_finite_differences():
    torch.manual_seed(3)
    mlp = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    baselines = torch.randn(2, 4, dtype=torch.float64)
    n = 4
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(2, (3 * n,), generator=g)
    noise = torch.randn(3 * n, 4, generator=g, dtype=torch.float64) * 0.1
    alphas = torch.rand(3 * n, generator=g, dtype=torch.float64)
    w = torch.randn(3, 3, 4, dtype=torch.float64)  # random weighting of sum(gs)

    def loss(create_graph):
        gs = gradient_shap(mlp, x, baselines, n, 0.1, create_graph=create_graph,
                           alphas=alphas, baseline_idx=idx, noise=noise)
        return gs.sum() + (w * gs).sum()

    L = loss(True)
    assert L.requires_grad
    params = [mlp[0].weight, mlp[0].bias, mlp[2].weight, mlp[2].bias]
    grads = torch.autograd.grad(L, params, allow_unused=True, materialize_grads=True)
    # the last layer's bias does not affect input gradients
    assert torch.count_nonzero(grads[3]) == 0
    for p, grad in zip(params[:3], grads[:3]):
        fd = torch.zeros_like(p)
        h = 1e-6
        with torch.no_grad():
            for i in range(p.numel()):
                old = p.view(-1)[i].item()
                p.view(-1)[i] = old + h
                lp = loss(False).item()
                p.view(-1)[i] = old - h
                lm = loss(False).item()
                p.view(-1)[i] = old
                fd.view(-1)[i] = (lp - lm) / (2 * h)
        assert grad.abs().max() > 1e-3
        torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-7)


def test_create_graph_true_on_burgess_is_differentiable():
    vae = BurgessVAE(3)
    x = torch.rand(4, 1, 32, 32)
    gs = gradient_shap(vae.encode_mean, x, torch.zeros(1, 1, 32, 32), 5, create_graph=True,
                       generator=torch.Generator().manual_seed(0))
    gs_nograph = gradient_shap(vae.encode_mean, x, torch.zeros(1, 1, 32, 32), 5,
                               generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gs.detach(), gs_nograph)
    gs.abs().sum().backward()
    w = vae.encoder.convs[0].weight.grad
    assert w is not None and torch.isfinite(w).all() and w.abs().max() > 0


def _grads(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True, retain_graph=True)


@pytest.mark.parametrize("create_graph", [False, True])
def test_latent_saliency_gradient_paths(create_graph):
    vae = BurgessVAE(3)
    x = torch.rand(6, 1, 32, 32)
    params = [p for p in vae.encoder.parameters()]
    mu, sal = latent_saliency(vae.encode_mean, x, n_samples=5, create_graph=create_graph,
                              generator=torch.Generator().manual_seed(1))
    assert mu.shape == (6, 3) and sal.shape == (6, 3, 1, 32, 32)
    assert mu.requires_grad and sal.requires_grad
    assert (sal >= 0).all()
    torch.testing.assert_close(mu, vae.encode_mean(x))

    weights = torch.rand_like(sal)
    g_ours = _grads((weights * sal).sum(), params)

    gs = gradient_shap(vae.encode_mean, x, torch.zeros(1, 1, 32, 32), 5, create_graph=create_graph,
                       generator=torch.Generator().manual_seed(1)).transpose(0, 1)
    mu2 = vae.encode_mean(x)
    ref = (mu2[:, :, None, None, None] * gs).abs()
    torch.testing.assert_close(sal.detach(), ref.detach())
    g_ref = _grads((weights * ref).sum(), params)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b)

    # paper-faithful path: the GS factor is a constant
    g_detached = _grads((weights * (mu2[:, :, None, None, None] * gs.detach()).abs()).sum(), params)
    same = all(torch.allclose(a, b) for a, b in zip(g_ours, g_detached))
    assert same == (not create_graph)


def test_chunked_passes_equal_one_pass_and_captum():
    torch.manual_seed(0)
    f = BurgessVAE(3).encode_mean
    x = torch.rand(6, 1, 32, 32)
    alphas = torch.rand(6 * 5)
    base = torch.zeros(1, 1, 32, 32)
    whole = gradient_shap(f, x, base, n_samples=5, alphas=alphas, chunk_size=1000)
    for chunk in (1, 7, 30):
        torch.testing.assert_close(gradient_shap(f, x, base, n_samples=5, alphas=alphas, chunk_size=chunk),
                                   whole, rtol=1e-5, atol=1e-9)


def test_compare_with_captum_reports_a_tiny_difference():
    torch.manual_seed(0)
    model = BurgessVAE(3)
    x = torch.rand(4, 1, 32, 32)
    assert compare_with_captum(model.encode_mean, x, n_samples=5) < 1e-7
