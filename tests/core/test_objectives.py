"""Objectives against closed forms, torch.distributions and a loop implementation."""
import math

import torch
from torch.distributions import Normal, kl_divergence

from repro_lib.models import BurgessVAE
from repro_lib.objectives import BetaTCVAE, BetaVAE, bernoulli_nll, gaussian_kl


def test_gaussian_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-6)
    assert gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).item() == 0.0


def test_bernoulli_nll_by_hand():
    recon, x = torch.tensor([[0.5, 0.25]]), torch.tensor([[1.0, 0.0]])
    assert math.isclose(bernoulli_nll(recon, x).item(), -math.log(0.5) - math.log(0.75), rel_tol=1e-6)


def test_beta_vae_terms_add_up():
    torch.manual_seed(0)
    model, x = BurgessVAE(3), torch.rand(4, 1, 32, 32)
    terms = BetaVAE(beta=4.0)(model, x)
    assert torch.allclose(terms["loss"], terms["recon"] + 4.0 * terms["kl"])


def _loop_log_qz(z, mu, logvar, n_data):
    """Minibatch-weighted sampling, written with Python loops (Chen et al., Eq. S6)."""
    b, d = z.shape
    out_joint, out_prod = [], []
    for i in range(b):
        joint, prod = [], torch.zeros(())
        dens = Normal(mu, (0.5 * logvar).exp()).log_prob(z[i].expand(b, d))  # (b, d)
        joint = torch.logsumexp(dens.sum(1), 0) - math.log(b * n_data)
        prod = (torch.logsumexp(dens, 0) - math.log(b * n_data)).sum()
        out_joint.append(joint)
        out_prod.append(prod)
    return torch.stack(out_joint), torch.stack(out_prod)


def test_beta_tcvae_matches_loop_and_decomposition():
    torch.manual_seed(1)
    model, x = BurgessVAE(3), torch.rand(6, 1, 32, 32)
    for estimator in ("mws", "mss"):
        torch.manual_seed(2)
        t = BetaTCVAE(n_data=100, beta=1.0, estimator=estimator)(model, x)
        torch.manual_seed(2)
        recon, (mu, logvar, _), z = model(x)
        log_qz_x = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
        log_pz = Normal(0.0, 1.0).log_prob(z).sum(1)
        # MI + TC + dim-wise KL telescopes to E[log q(z|x) - log p(z)] for either estimator.
        assert torch.allclose(t["mi"] + t["tc"] + t["dim_kl"], (log_qz_x - log_pz).mean(), atol=1e-4)
        if estimator == "mws":
            joint, prod = _loop_log_qz(z, mu, logvar, 100)
            assert torch.allclose(t["tc"], (joint - prod).mean(), atol=1e-4)
            assert torch.allclose(t["mi"], (log_qz_x - joint).mean(), atol=1e-4)


def test_attribution_prior_terms_and_prior_batch():
    from repro_lib.parts.attribution_priors.attribution import latent_saliency
    from repro_lib.parts.attribution_priors.objectives import AttributionPrior
    from repro_lib.parts.attribution_priors.saliency import pearson_correlation_prior

    torch.manual_seed(3)
    model, x = BurgessVAE(3), torch.rand(8, 1, 32, 32)
    model.eval()  # z = mu: the ELBO part is deterministic
    torch.manual_seed(4)
    full = AttributionPrior("pearson", 2.0)(model, x)
    assert torch.allclose(full["loss"], full["recon"] + full["kl"] + 2.0 * full["prior"])
    torch.manual_seed(4)
    same = AttributionPrior("pearson", 2.0, prior_batch=8)(model, x)
    assert torch.allclose(same["prior"], full["prior"])
    torch.manual_seed(4)
    sub = AttributionPrior("pearson", 2.0, prior_batch=3)(model, x)
    torch.manual_seed(4)
    _, sal = latent_saliency(model.encode_mean, x[:3], n_samples=5)
    assert torch.allclose(sub["prior"], pearson_correlation_prior(sal.sum(2)))
    assert AttributionPrior("tv", 1.0).describe() == {
        "objective": "AttributionPrior", "prior": "tv", "lam": 1.0, "path": "faithful",
        "n_samples": 5, "beta": 1.0, "gs_draws": "per_unit", "tv_batch_sum": True}
