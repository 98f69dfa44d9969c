"""Adversarial-robustness part (document 003): KLs, Concrete sampler, capacity schedule,
the batched attack, success-rate tables, the CelebA registry entry and the paper tables."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from repro_lib import models, train
from repro_lib.data import Tensors
from repro_lib.models.vae import gaussian_kl, gaussian_kl_per_dim
from repro_lib.parts.adversarial_robustness import robustness
from repro_lib.parts.adversarial_robustness.attacks import attack
from repro_lib.parts.adversarial_robustness.joint_vae import concrete_sample, gumbel_max
from repro_lib.parts.adversarial_robustness.objectives import CapacityVAE, JointELBO, capacity, categorical_kl


def test_gaussian_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g) * 0.5
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(400_000, 2, 3, generator=g, dtype=torch.float64).float()
    q = torch.distributions.Normal(mu, std)
    p = torch.distributions.Normal(0.0, 1.0)
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean()
    assert gaussian_kl(mu, logvar).item() == pytest.approx(mc.item(), rel=0.01)
    assert gaussian_kl_per_dim(mu, logvar).sum().item() == pytest.approx(gaussian_kl(mu, logvar).item(), rel=1e-5)


def test_categorical_kl_matches_monte_carlo_and_is_bounded():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 10, generator=g) * 2
    q = torch.distributions.Categorical(logits=logits)
    d = q.sample((200_000,))
    mc = (q.log_prob(d) + math.log(10)).mean()  # log q(d) - log (1/K)
    assert categorical_kl(logits).item() == pytest.approx(mc.item(), rel=0.01)
    assert categorical_kl(torch.zeros(1, 10)).item() == pytest.approx(0.0, abs=1e-6)
    assert categorical_kl(torch.tensor([[50.0] + [0.0] * 9])).item() == pytest.approx(math.log(10), rel=1e-4)


def test_concrete_tends_to_the_gumbel_max_one_hot():
    logits = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.4])).expand(2000, 4)
    hard = gumbel_max(logits, torch.Generator().manual_seed(5))
    for temp, tol in ((1.0, None), (0.01, 1e-3)):
        soft = concrete_sample(logits, temp, torch.Generator().manual_seed(5))
        assert torch.allclose(soft.sum(1), torch.ones(2000), atol=1e-5)
        assert (soft.argmax(1) == hard.argmax(1)).all()  # same noise, same winner
        if tol is not None:  # near-one-hot at low temperature (ties are measure zero)
            assert (soft - hard).abs().max(1).values.median() < tol
    assert (hard.mean(0) - torch.tensor([0.1, 0.2, 0.3, 0.4])).abs().max() < 0.03
    with pytest.raises(ValueError):
        concrete_sample(logits, 0.0)


def test_capacity_schedule_rises_linearly_then_holds():
    assert capacity(0, 5.0, 100) == 0.0
    assert capacity(50, 5.0, 100) == pytest.approx(2.5)
    assert capacity(100, 5.0, 100) == 5.0 and capacity(10_000, 5.0, 100) == 5.0
    obj = CapacityVAE(gamma=30.0, cont_max=5.0, disc_max=5.0, steps=100)
    model = models.build({"family": "joint_vae", "cont": 3, "disc": 4}).eval()
    x = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    early, late = obj(model, x, step=10), obj(model, x)
    assert early["c_cont"].item() == pytest.approx(0.5)
    assert late["c_cont"].item() == 5.0 and late["c_disc"].item() == pytest.approx(math.log(4))
    expected = late["recon"] + 30 * ((late["kl_cont"] - 5).abs() + (late["kl_disc"] - math.log(4)).abs())
    assert late["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_training_loop_passes_the_step(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    seen = []

    class Spy(CapacityVAE):
        def __call__(self, model, x, step=None):
            seen.append(step)
            return super().__call__(model, x, step)

    x = torch.rand(32, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    result = train.fit({"family": "joint_vae", "cont": 2, "disc": 3}, Spy(steps=4), Tensors((x,), "unit"),
                       train.TrainSettings(epochs=2, batch_size=16), progress=False)
    assert seen == [0, 1, 2, 3]
    assert result.history["c_cont"] == pytest.approx([0.0, 1.25, 2.5, 3.75])
    assert set(JointELBO()(result.model, x)) >= {"loss", "recon", "kl_cont", "kl_disc", "kl_dim0"}


def test_attack_on_a_linear_model_reaches_its_target_and_stays_in_bounds():
    torch.manual_seed(0)
    theta = nn.Linear(16, 4)  # a fixed toy "encoder" on 4x4 images
    f = lambda x: theta(x.flatten(1))
    g = torch.Generator().manual_seed(2)
    source = torch.rand(6, 1, 4, 4, generator=g) * 0.6 + 0.2
    # targets reachable inside the ball: theta of a point within radius 0.1 of the source
    target = (source + (torch.rand(6, 1, 4, 4, generator=g) - 0.5) * 0.16).clamp(0, 1)
    with torch.no_grad():
        start = (f(source) - f(target)).norm(dim=1)
    out = attack(f, source, target, radius=0.1, steps=600, lr=1e-2, lam=0.01, noise_std=0.2,
                 generator=torch.Generator().manual_seed(0))
    assert (out.linf <= 0.1 + 1e-6).all() and out.x_adv.min() >= 0 and out.x_adv.max() <= 1
    assert (out.latent_distance < 0.1 * start).all(), (out.latent_distance, start)


def test_batched_attack_equals_one_pair_at_a_time():
    torch.manual_seed(0)
    model = models.build({"family": "joint_vae", "cont": 2, "disc": 3}).eval()
    g = torch.Generator().manual_seed(3)
    src, tgt = torch.rand(4, 1, 32, 32, generator=g), torch.rand(4, 1, 32, 32, generator=g)
    together = attack(model.posterior_params, src, tgt, steps=5, generator=torch.Generator().manual_seed(1))
    apart = attack(model.posterior_params, src, tgt, steps=5, batch_size=1,
                   generator=torch.Generator().manual_seed(1))
    assert torch.allclose(together.x_adv, apart.x_adv, atol=1e-5)


def test_success_tables_from_a_known_confusion():
    conf = np.zeros((3, 3, 3), dtype=int)
    conf[0, 1] = [6, 3, 1]   # 10 attacks 0 -> 1: 4 leave class 0, 3 land on 1
    conf[0, 2] = [0, 0, 5]   # all 5 land on 2
    conf[1, 0] = [2, 2, 0]   # 2 of 4 leave class 1, both on 0
    conf[1, 2] = [0, 4, 0]   # none move
    conf[2, 0] = [1, 1, 1]
    conf[2, 1] = [0, 3, 1]   # 3 of 4 leave class 2, all 3 on 1
    t = robustness.tables_from_confusion(conf)
    ig, tg = t["ignore"].to_numpy(), t["target"].to_numpy()
    assert np.isnan(ig[0, 0]) and t["count"].to_numpy()[0, 1] == 10
    assert ig[0, 1] == pytest.approx(0.4) and tg[0, 1] == pytest.approx(0.3)
    assert ig[0, 2] == 1.0 and tg[0, 2] == 1.0
    assert ig[1, 0] == 0.5 and tg[1, 0] == 0.5 and ig[1, 2] == 0 and tg[1, 2] == 0
    assert ig[2, 0] == pytest.approx(2 / 3) and tg[2, 0] == pytest.approx(1 / 3)
    assert ig[2, 1] == pytest.approx(0.75) and tg[2, 1] == pytest.approx(0.75)
    m = robustness.marginals(t)
    assert m.loc["AS ignore-target", 0] == pytest.approx(0.7)
    assert robustness.overall(t)["target"] == pytest.approx(np.mean([0.65, 0.25, (1 / 3 + 0.75) / 2]))
    assert robustness.format_grid(t["ignore"], t["target"]).loc[0, 1] == "40.0% (30.0%)"


def test_mean_ci_against_scipy():
    from scipy import stats
    v = [0.1, 0.3, 0.2]
    mean, lo, hi = robustness.mean_ci(v)
    ref = stats.t.interval(0.95, 2, loc=np.mean(v), scale=stats.sem(v))
    assert mean == pytest.approx(0.2) and (lo, hi) == pytest.approx(ref)


def test_paper_tables_rows_average_to_the_marginals():
    from repro_lib.parts.adversarial_robustness import recipes as ar
    for kind in ar.KINDS:
        m = ar.paper_marginals(kind)
        assert np.allclose(ar.paper_grid(kind, "ignore").mean(1), m.loc["AS ignore-target"], atol=1e-4)
        assert np.allclose(ar.paper_grid(kind, "target").mean(1), m.loc["AS target"], atol=1e-4)
    assert ar.paper_overall("disentangled")["ignore"] > ar.paper_overall("entangled")["ignore"]


def test_celeba_is_registered_with_its_checksum():
    from repro_lib.data import REGISTRY
    spec = REGISTRY["celeba_subset"]
    assert spec.subdir == "faces"
    assert spec.files[0].sha256 == "537151d253a7ff3b41839df9c336af85cb562453f90b96c764ad585c5489ca61"


def test_joint_vae_shapes():
    for spec, shape in (({"cont": 10, "disc": 10}, (2, 1, 32, 32)),
                        ({"cont": 4, "disc": 0}, (2, 1, 32, 32)),
                        ({"cont": 32, "disc": 10, "channels": 3, "size": 64}, (2, 3, 64, 64))):
        m = models.build({"family": "joint_vae", **spec})
        x = torch.rand(shape)
        recon, (mu, logvar, logits), z = m(x)
        assert recon.shape == shape and z.shape == (2, spec["cont"] + spec["disc"])
        assert m.posterior_params(x).shape == (2, 2 * spec["cont"] + spec["disc"])
        m.eval()
        assert torch.equal(m(x)[0], m.reconstruct(x))
    assert models.build({"family": "small_cnn"})(torch.rand(2, 1, 32, 32)).shape == (2, 10)
    assert models.build({"family": "small_cnn", "channels": 3, "classes": 40, "size": 64})(
        torch.rand(2, 3, 64, 64)).shape == (2, 40)


def test_balanced_accuracy_matches_sklearn_per_label():
    from sklearn.metrics import balanced_accuracy_score
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, (200, 5))
    predicted = np.where(rng.random((200, 5)) < 0.7, truth, 1 - truth)
    ours = robustness.balanced_accuracy(predicted, truth)
    for k in range(5):
        assert ours[k] == pytest.approx(balanced_accuracy_score(truth[:, k], predicted[:, k]), abs=1e-12)
    truth[:, 2] = 1  # one class only: undefined
    assert np.isnan(robustness.balanced_accuracy(predicted, truth)[2])


def test_attribute_agreement_hand_computed():
    source = np.array([[0, 0, 1], [1, 1, 1], [0, 1, 0]])
    target = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 0]])
    predicted = np.array([[1, 0, 0], [0, 0, 0], [1, 0, 1]])
    reliable = np.array([True, True, False])
    # pair 0 differs on attributes 0, 1 (both reliable): hits on 0 only -> 1/2
    # pair 1 differs nowhere -> NaN; pair 2 differs on 0, 1: both hit -> 1
    got = robustness.attribute_agreement(predicted, source, target, reliable)
    assert got[0] == 0.5 and np.isnan(got[1]) and got[2] == 1.0
