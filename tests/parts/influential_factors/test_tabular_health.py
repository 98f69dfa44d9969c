"""Why the thesis's table models learnt nothing, each cause on a case with a known answer: the
decoder head of Listing C.2 (a LeakyReLU before the Sigmoid) and the reconstruction's weight
(the Bernoulli loss's noise against the columns' variance); and the book's table models, which
fix both."""
import numpy as np
import pytest
import torch

from repro_lib import models
from repro_lib.objectives import BetaTCVAE, BetaVAE
from repro_lib.parts.influential_factors import recipes as inf
from repro_lib.parts.influential_factors.tabular import TabularDecoder, WeightedReconstruction

COLUMN_MEANS = torch.tensor([0.006, 0.05, 0.2, 0.45, 0.6])  # scaled credit columns sit mostly near 0


def _bias_only(decoder: TabularDecoder, target: torch.Tensor) -> TabularDecoder:
    """The decoder's last Linear set to output logit(target) whatever the code (weights 0)."""
    last = [m for m in decoder.main if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.logit(target))
    return decoder


def test_the_listings_decoder_head_cannot_reach_small_outputs_at_their_logit():
    z = torch.randn(4, 3)
    ours = _bias_only(TabularDecoder(3, 5, final_leaky_relu=False), COLUMN_MEANS)(z)
    listing = _bias_only(TabularDecoder(3, 5, final_leaky_relu=True), COLUMN_MEANS)(z)
    assert torch.allclose(ours, COLUMN_MEANS.expand(4, -1), atol=1e-6)
    # the listing's LeakyReLU scales a negative pre-activation by 0.01: sigmoid(0.01 logit(p))
    expected = torch.where(COLUMN_MEANS < 0.5, torch.sigmoid(0.01 * torch.logit(COLUMN_MEANS)), COLUMN_MEANS)
    assert torch.allclose(listing, expected.expand(4, -1), atol=1e-6)
    assert (listing[0, :3] > 0.48).all()  # 0.006, 0.05, 0.2 all come out near 0.5


def test_the_books_table_models_drop_that_head_and_weigh_the_reconstruction():
    model = models.build(inf.table_spec(5))
    assert isinstance(model.decoder.main[-2], torch.nn.Linear)  # the Sigmoid follows the last Linear
    assert isinstance(models.build(inf.table_spec(5, listing=True)).decoder.main[-2], torch.nn.LeakyReLU)
    assert inf.table_spec(5, listing=True) == {"family": "tabular_vae", "input_dim": 23, "latent_dim": 5}
    objective = inf.table_objective("tcvae", 100, 2.0)
    assert isinstance(objective, WeightedReconstruction) and objective.weight == inf.TABLE_RECON_WEIGHT
    assert objective.inner == BetaTCVAE(n_data=100, beta=2.0)
    assert inf.table_objective("tcvae", 100, 2.0, recon_weight=1) == BetaTCVAE(n_data=100, beta=2.0)


def test_weighted_reconstruction_counts_the_recon_term_weight_times():
    torch.manual_seed(0)
    model = models.build(inf.table_spec(3))
    model.eval()  # z = mu: the same terms on every call
    x = torch.rand(16, 23)
    inner = BetaVAE(beta=2.0)
    plain, weighted = inner(model, x), WeightedReconstruction(inner, 50.0)(model, x)
    assert weighted["recon"] == plain["recon"] and weighted["kl"] == plain["kl"]
    expected = 50 * plain["recon"].item() + 2 * plain["kl"].item()
    assert weighted["loss"].item() == pytest.approx(expected, rel=1e-6)
    described = WeightedReconstruction(inner, 50.0).describe()
    assert described == {"objective": "WeightedReconstruction", "weight": 50.0, "inner": inner.describe()}
    with pytest.raises(ValueError, match="weight"):
        WeightedReconstruction(inner, 0.0)


def test_whitened_eigenvalues_by_hand():
    rng = np.random.default_rng(0)
    n = 20000
    binary = (rng.random(n) < 0.3).astype(float)          # var = p(1 - p): eigenvalue 1
    small = 0.1 + 0.02 * rng.standard_normal(n)           # var 4e-4 against 0.1 * 0.9
    x = np.stack([binary, small], 1)
    p = x.mean(0)
    by_hand = np.sort(x.var(0, ddof=1) / (p * (1 - p)))[::-1]  # independent columns: the diagonal
    got = inf.whitened_eigenvalues(torch.tensor(x, dtype=torch.float32))
    assert got == pytest.approx(by_hand, rel=1e-3, abs=1e-4)
    assert got[0] == pytest.approx(1.0, abs=0.01) and got[1] == pytest.approx(4e-4 / 0.09, rel=0.05)
    with pytest.raises(ValueError, match="constant column"):
        inf.whitened_eigenvalues(np.stack([binary, np.zeros(n)], 1))


def test_pca_reconstruction_nll_is_the_mean_predictor_at_zero_spread_and_exact_at_full_rank():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 0.9, size=(500, 4))
    full = inf.pca_reconstruction_nll(x, 4)
    assert full == pytest.approx(inf.perfect_nll(torch.tensor(x)), rel=1e-6)
    one = inf.pca_reconstruction_nll(x, 1)
    assert inf.perfect_nll(torch.tensor(x)) < one < inf.mean_predictor_nll(torch.tensor(x))


def _low_variance_table(n: int = 4000, seed: int = 0) -> torch.Tensor:
    """A credit-like table: 8 columns near small means, driven by one factor with a spread far
    below the Bernoulli noise p(1 - p) (whitened eigenvalue about 0.7 < 1), plus noise."""
    g = torch.Generator().manual_seed(seed)
    factor = torch.randn(n, 1, generator=g)
    means = torch.linspace(0.2, 0.4, 8)
    return (means + 0.12 * factor + 0.01 * torch.randn(n, 8, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("weight, collapses", [(1.0, True), (50.0, False)])
def test_a_weak_bernoulli_signal_collapses_at_weight_1_and_not_at_50(weight, collapses):
    x = _low_variance_table()
    assert inf.whitened_eigenvalues(x)[0] < 1 < 50 * inf.whitened_eigenvalues(x)[0]
    torch.manual_seed(0)
    model = models.build({"family": "tabular_vae", "input_dim": 8, "latent_dim": 2, "final_leaky_relu": False})
    objective = inf.table_objective("betavae", len(x), 1.0, recon_weight=weight)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        for idx in torch.randperm(len(x), generator=g).split(128):
            loss = objective(model, x[idx])["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    health = inf.table_health(model, x)
    if collapses:
        assert health["active latents"] == 0 and health[inf.GAIN] < 0.1
    else:
        assert health["active latents"] >= 1 and health[inf.GAIN] >= 0.1
