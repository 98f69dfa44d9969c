"""The MDN-RNN: its mixture NLL against torch.distributions, its parameter count, sampling at a
temperature, and recovery of a known 3-component 1-D mixture by fitting."""
import math

import pytest
import torch
from torch import distributions as D

from repro_lib.parts.dds.networks import parameter_count
from repro_lib.parts.dds.world_models.mdn_rnn import MDNRNN, MDNSequenceLoss, Mixture, mixture_nll, sample_next


def _reference_nll(target, mixture):
    dist = D.MixtureSameFamily(D.Categorical(logits=mixture.logits),
                               D.Independent(D.Normal(mixture.mu, mixture.sigma), 1))
    return -dist.log_prob(target)


def test_mixture_nll_matches_mixture_same_family():
    torch.manual_seed(0)
    mixture = Mixture(torch.randn(4, 7, 5), torch.randn(4, 7, 5, 32), torch.rand(4, 7, 5, 32) + 0.1)
    target = torch.randn(4, 7, 32)
    assert torch.allclose(mixture_nll(target, mixture), _reference_nll(target, mixture), rtol=1e-5, atol=1e-4)
    # far from every component: log-sum-exp stays finite where a naive sum of densities underflows
    far = mixture_nll(target + 100.0, mixture)
    assert torch.isfinite(far).all()
    assert torch.allclose(far, _reference_nll(target + 100.0, mixture), rtol=1e-5)


def test_mdn_rnn_parameter_count_and_shapes():
    model = MDNRNN(32, 3, 256, 5)
    # LSTM: 4 * 256 * (35 + 256) weights + 2 * 4 * 256 biases; head: 256 * 325 + 325
    assert parameter_count(model) == 4 * 256 * (35 + 256) + 2 * 4 * 256 + 256 * 325 + 325 == 383_557
    mixture, (h, c) = model(torch.randn(2, 6, 32), torch.randn(2, 6, 3))
    assert mixture.logits.shape == (2, 6, 5) and mixture.mu.shape == (2, 6, 5, 32)
    assert h.shape == (1, 2, 256) and (mixture.sigma > 0).all()
    # stepping one at a time gives the same mixtures as the whole sequence
    z, a = torch.randn(2, 3, 32), torch.randn(2, 3, 3)
    whole, _ = model(z, a)
    state = None
    for t in range(3):
        step, state = model.step(z[:, t], a[:, t], state)
        assert torch.allclose(step.mu, whole.mu[:, t], atol=1e-6)


def test_sampling_at_temperature():
    mixture = Mixture(torch.tensor([[0.0, 2.0]]), torch.tensor([[[-5.0], [3.0]]]), torch.tensor([[[1.0], [0.5]]]))
    assert sample_next(mixture, 0.0).tolist() == [[3.0]]  # tau = 0: the likeliest component's mean
    g = torch.Generator().manual_seed(0)
    big = Mixture(mixture.logits.expand(20000, 2), mixture.mu.expand(20000, 2, 1), mixture.sigma.expand(20000, 2, 1))
    draws = sample_next(big, 1.0, g)[:, 0]
    w = torch.softmax(mixture.logits[0], 0)
    assert float(draws.mean()) == pytest.approx(float(w[0] * -5 + w[1] * 3), abs=0.05)
    hot = sample_next(big, 2.0, g)[:, 0]
    assert float((hot < -1).float().mean()) > float((draws < -1).float().mean())  # flatter weights
    with pytest.raises(ValueError):
        sample_next(mixture, -1.0)


def test_fitting_recovers_a_known_three_component_mixture():
    torch.manual_seed(0)
    weights, means, stds = torch.tensor([0.2, 0.5, 0.3]), torch.tensor([-4.0, 0.0, 3.0]), torch.tensor([0.5, 1.0, 0.3])
    n, length = 256, 9
    k = torch.multinomial(weights, n * length, replacement=True)
    z = (means[k] + stds[k] * torch.randn(n * length)).view(n, length, 1)
    z[:, 0] = 0.0  # the input carries no information: the model must learn the marginal mixture
    model = MDNRNN(latent=1, actions=1, hidden=8, gaussians=3)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.03)
    loss = MDNSequenceLoss(sample_z=False)
    batch = (z, torch.zeros_like(z), torch.zeros(n, length, 1))
    for _ in range(400):
        optimiser.zero_grad()
        loss(model, batch)["loss"].backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        mixture, _ = model(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1))
    order = mixture.mu[0, 0, :, 0].argsort()
    fitted_w = torch.softmax(mixture.logits[0, 0], 0)[order]
    fitted_mu, fitted_sigma = mixture.mu[0, 0, order, 0], mixture.sigma[0, 0, order, 0]
    assert torch.allclose(fitted_w, weights, atol=0.05), fitted_w
    assert torch.allclose(fitted_mu, means, atol=0.15), fitted_mu
    assert torch.allclose(fitted_sigma, stds, atol=0.1), fitted_sigma
    # maximum likelihood on its training data does at least as well as the true mixture (the LSTM
    # also sees the earlier, uninformative draws, so it may overfit them a little)
    true = Mixture(weights.log().expand(n, length - 1, 3), means.view(1, 1, 3, 1).expand(n, length - 1, 3, 1),
                   stds.view(1, 1, 3, 1).expand(n, length - 1, 3, 1))
    with torch.no_grad():
        fitted_nll = float(loss(model, batch)["nll"])
    assert math.isfinite(fitted_nll)
    assert fitted_nll <= float(mixture_nll(z[:, 1:], true).mean()) + 0.02
