"""The recipes behind the adversarial-robustness chapters' numbers (2_2_vae, 2_2_3_discrete,
2_3_disentanglement, 5_attacks, 6_celeba, 7_verdict), on small hand-computed cases."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from repro_lib.models.vae import Posterior
from repro_lib.parts.adversarial_robustness import recipes as ar
from repro_lib.parts.adversarial_robustness import robustness


class SplitEncoder(nn.Module):
    """A stand-in VAE whose posterior is read off its input: x (B, 2K) -> mu = x[:, :K],
    logvar = x[:, K:]; with `logits=True`, x (B, L) are the category logits."""

    def __init__(self, logits: bool = False):
        super().__init__()
        self.logits = logits

    def encode(self, x):
        if self.logits:
            zero = x.new_zeros(len(x), 1)
            return Posterior(zero, zero, x)
        k = x.shape[1] // 2
        return Posterior(x[:, :k], x[:, k:], None)


# ----------------------------------------------------------------------------- 2_2_vae


def test_relative_error_of_the_means():
    assert ar.relative_error(torch.tensor([1.1, 0.9, 1.3]), torch.ones(3)) == pytest.approx(0.1)
    assert ar.relative_error(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 1.0])) == pytest.approx(0.5)


def test_gaussian_kl_check_closed_form_by_hand_and_monte_carlo():
    # image 0: mu = (0, 0), sigma^2 = (1, 1) -> 0 nats; image 1: mu = (1, 0), sigma^2 = (1, 2)
    # -> 0.5 * (1 + 1 - 1 - 0) + 0.5 * (0 + 2 - 1 - log 2) = 0.5 + 0.5 * (1 - log 2)
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, math.log(2)]])
    closed, mc = ar.gaussian_kl_check(SplitEncoder(), x, samples=200_000, seed=0)
    assert closed.tolist() == pytest.approx([0.0, 0.5 + 0.5 * (1 - math.log(2))], abs=1e-6)
    assert mc[1].item() == pytest.approx(closed[1].item(), rel=0.02)
    assert abs(mc[0].item()) < 0.01
    again = ar.gaussian_kl_check(SplitEncoder(), x, samples=200_000, seed=0)[1]
    assert torch.equal(mc, again)  # seeded: repeats bit for bit


def test_gaussian_kl_check_draws_what_the_seeded_global_sampler_drew():
    # the chapter used torch.manual_seed(0) and Normal.sample; the recipe's own generator
    # gives the same draws on the CPU, so the chapter's numbers are unchanged
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(4))
    mu, logvar = x[:, :3], x[:, 3:]
    torch.manual_seed(0)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    z = q.sample((50,))
    old = (q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(-1).mean(0)
    assert torch.equal(ar.gaussian_kl_check(SplitEncoder(), x, 50, seed=0)[1], old)


def test_mean_gaussian_kl_by_hand():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0]])  # one unit: KL 0 and 0.5 * 4 = 2 nats
    assert ar.mean_gaussian_kl(SplitEncoder(), x) == pytest.approx(1.0)


def test_tail_mean():
    assert ar.tail_mean(list(range(1, 31)), 20) == pytest.approx(20.5)
    assert ar.tail_mean([3.0, 5.0], 20) == pytest.approx(4.0)


# ----------------------------------------------------------------------------- 2_2_3_discrete


def test_simplex_samples_share_their_noise_and_repeat():
    probs = torch.tensor([0.2, 0.3, 0.5])
    hard, soft = ar.simplex_samples(probs, [0.01, 1.0], n=400, seed=0)
    assert hard.shape == (400, 3) and set(hard.sum(1).tolist()) == {1.0}
    for z in soft.values():
        assert torch.allclose(z.sum(1), torch.ones(400), atol=1e-5)
        assert (z.argmax(1) == hard.argmax(1)).all()
    hard2, soft2 = ar.simplex_samples(probs, [0.01, 1.0], n=400, seed=0)
    assert torch.equal(hard, hard2) and torch.equal(soft[1.0], soft2[1.0])


def test_jitter_is_seeded_and_scaled():
    x = torch.zeros(5, 3)
    a, b = ar.jitter(x, 0.01, seed=0), ar.jitter(x, 0.01, seed=0)
    assert isinstance(a, np.ndarray) and a.shape == (5, 3) and np.array_equal(a, b)
    assert 0 < np.abs(a).max() < 0.1
    assert np.array_equal(ar.jitter(torch.ones(2, 2), 0.0, seed=1), np.ones((2, 2)))


def test_concrete_limit_by_hand():
    hard = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    soft = {0.5: torch.tensor([[0.75, 0.25], [0.5, 0.5]])}
    row = ar.concrete_limit(soft, hard).iloc[0]
    assert row["temperature"] == 0.5
    assert row["mean max coordinate"] == pytest.approx(0.625)
    assert row["argmax = Gumbel-Max"] == pytest.approx(0.5)  # the tie reads as category 0
    assert row["mean L-inf distance to one-hot"] == pytest.approx((0.25 + 0.5) / 2)
    assert row["mean of samples"] == [0.625, 0.375]


def test_frequency_error_by_hand():
    hard = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert ar.frequency_error(hard, torch.tensor([0.5, 0.5])) == pytest.approx(0.25)


def test_discrete_kl_check_analytic_by_hand_and_monte_carlo():
    logits = torch.tensor([[0.0, 0.0], [math.log(0.8), math.log(0.2)]])
    analytic, mc = ar.discrete_kl_check(logits, samples=200_000, seed=3)
    expected = 0.8 * math.log(1.6) + 0.2 * math.log(0.4)
    assert analytic.tolist() == pytest.approx([0.0, expected], abs=1e-6)
    assert mc[0].item() == pytest.approx(0.0, abs=1e-6)  # q uniform: log q(d) - log(1/2) = 0 always
    assert mc[1].item() == pytest.approx(expected, rel=0.02)
    assert torch.equal(mc, ar.discrete_kl_check(logits, 200_000, seed=3)[1])  # repeats
    assert not torch.equal(mc, ar.discrete_kl_check(logits, 200_000, seed=4)[1])


def test_discrete_kl_check_draws_what_categorical_sample_draws_under_the_same_seed():
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(3)
    q = torch.distributions.Categorical(logits=logits)
    old = (q.log_prob(q.sample((100,))) + math.log(10)).mean(0)
    assert torch.allclose(ar.discrete_kl_check(logits, 100, seed=3)[1], old)


def test_plug_in_kl_limits():
    assert torch.equal(ar.plug_in_kl(torch.zeros(2, 4), 1.0, 50, seed=2), torch.zeros(2))  # log(q K) = 0
    logits = torch.tensor([[math.log(0.8), math.log(0.2)]])
    analytic = 0.8 * math.log(1.6) + 0.2 * math.log(0.4)
    assert ar.plug_in_kl(logits, 0.01, 100_000, seed=2).item() == pytest.approx(analytic, rel=0.02)


# ----------------------------------------------------------------------------- 2_3_disentanglement


def test_capacity_tracking_error_over_the_second_half():
    assert ar.capacity_tracking_error({"kl_cont": [9, 9, 1, 3], "c_cont": [0, 0, 2, 2]}) == pytest.approx(1.0)
    # 5 steps: the second half starts at step 2
    h = {"kl_cont": [9, 9, 0.0, 1.0, 2.0], "c_cont": [0, 0, 0.5, 0.5, 0.5]}
    assert ar.capacity_tracking_error(h) == pytest.approx((0.5 + 0.5 + 1.5) / 3)
    assert ar.capacity_tracking_error({"kl_disc": [0, 4], "c_disc": [0, 1]}, "kl_disc", "c_disc") == 3.0
    # from 10% of the steps on: 10 steps, the window starts at step 1
    h = {"kl_cont": [9.0] + [1.0] * 9, "c_cont": [0.0] + [0.5] * 9}
    assert ar.capacity_tracking_error(h, start=0.1) == pytest.approx(0.5)
    assert ar.capacity_tracking_error(h, start=0.0) == pytest.approx((9 + 4.5) / 10)


def test_kl_per_unit_and_active_units_by_hand():
    # unit 0: mu = 0 and 2 -> KL 0 and 2 (mean 1); unit 1: sigma^2 = 1 -> 0
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]])
    kl = ar.kl_per_unit(SplitEncoder(), x)
    assert isinstance(kl, np.ndarray) and kl.tolist() == pytest.approx([1.0, 0.0])
    assert ar.active_units(np.array([0.05, 0.2, 0.1, 3.0]), 0.1) == 2
    assert ar.active_units(kl) == 1


def test_categories_in_batches():
    logits = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.0]])
    model = SplitEncoder(logits=True).train()
    assert ar.categories(model, logits, batch_size=2).tolist() == [1, 0, 2, 1, 0]
    assert model.training  # the mode is restored


def test_category_purity_by_hand():
    cats = np.array([0, 0, 1, 1, 1])
    labels = np.array([3, 3, 3, 4, 4])  # category 0 -> 3 (2 right), category 1 -> 4 (2 right)
    assert ar.category_purity(cats, labels) == pytest.approx(0.8)
    assert ar.category_purity(np.zeros(4, int), np.array([1, 2, 3, 4])) == pytest.approx(0.25)


# ----------------------------------------------------------------------------- 5_attacks


def _summary(values: dict[str, list[float]], measure: str = "AS ignore-target") -> pd.DataFrame:
    return pd.DataFrame([{"model": kind, "seed": seed, measure: v}
                         for kind, vs in values.items() for seed, v in enumerate(vs)])


def test_seed_summary_and_verdict_by_hand():
    def run(sources, targets, predicted):
        frame = pd.DataFrame({"source": sources, "target": targets, "predicted": predicted})
        return ar.AttackRun(frame, *([None] * 4), 0.0)
    runs = {("disentangled", 0): run([0, 1], [1, 0], [1, 0]),   # both attacks move and hit
            ("entangled", 0): run([0, 1], [1, 0], [0, 2])}      # one stays, one moves elsewhere
    summary = ar.seed_summary(runs)
    assert summary.set_index("model")["AS ignore-target"].to_dict() == {"disentangled": 1.0, "entangled": 0.5}
    assert summary.set_index("model")["AS target"].to_dict() == {"disentangled": 1.0, "entangled": 0.0}
    # three seeds: disentangled minus entangled = 0.1, 0.2, 0.3
    s = _summary({"disentangled": [0.5, 0.6, 0.7], "entangled": [0.4, 0.4, 0.4], "entangled_wd": [0.6, 0.6, 0.6]})
    v = ar.verdict(s).set_index("baseline")
    mean, lo, hi = robustness.mean_ci([0.1, 0.2, 0.3])
    assert v.loc["entangled", "mean difference"] == pytest.approx(0.2)
    assert (v.loc["entangled", "ci_low"], v.loc["entangled", "ci_high"]) == pytest.approx((lo, hi))
    assert bool(v.loc["entangled", "claim holds"]) == (lo > 0)
    assert v.loc["entangled_wd", "mean difference"] == pytest.approx(0.0)
    assert not v.loc["entangled_wd", "claim holds"]


def test_claim_holds_and_verdict_numbers():
    frame = pd.DataFrame([
        {"baseline": "entangled", "measure": "AS ignore-target", "mean difference": 0.2, "ci_low": 0.1,
         "ci_high": 0.3, "claim holds": True},
        {"baseline": "entangled_wd", "measure": "AS ignore-target", "mean difference": 0.1, "ci_low": -0.1,
         "ci_high": 0.3, "claim holds": False},
        {"baseline": "entangled", "measure": "AS target", "mean difference": 0.3, "ci_low": 0.2,
         "ci_high": 0.4, "claim holds": True}])
    assert not ar.claim_holds(frame)
    assert ar.claim_holds(frame, "AS target") and not ar.claim_holds(frame, "AS ignore-target")
    numbers = ar.verdict_numbers(frame, "diff", ar.MNIST_MEASURES)
    assert numbers == {"diff_ignore_vs_entangled": 0.2, "diff_ignore_vs_entangled_ci": [0.1, 0.3],
                       "diff_ignore_vs_entangled_wd": 0.1, "diff_ignore_vs_entangled_wd_ci": [-0.1, 0.3],
                       "diff_target_vs_entangled": 0.3, "diff_target_vs_entangled_ci": [0.2, 0.4]}
    assert set(ar.verdict_numbers(frame.iloc[2:], "celeba_diff")) == {
        "celeba_diff_AS target_vs_entangled", "celeba_diff_AS target_vs_entangled_ci"}


def test_verdicts_skip_a_measure_with_nan():
    s = _summary({"disentangled": [0.5, 0.6], "entangled": [0.4, 0.4], "entangled_wd": [0.3, 0.4]}, "success")
    s["agreement"] = [np.nan, 0.2, 0.1, 0.1, 0.1, 0.1]
    v = ar.verdicts(s, ("success", "agreement"))
    assert v.measure.tolist() == ["success", "success"] and v.baseline.tolist() == ["entangled", "entangled_wd"]


def test_overall_difference_by_hand():
    # model a: source 0 -> 1 attacks: 2 of 2 move; source 1 -> 0: 1 of 2 -> overall 0.75
    a = robustness.success_tables([0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0], classes=2)
    b = robustness.success_tables([0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 0], classes=2)  # 0 and 0.5 -> 0.25
    assert ar.overall_difference(a, b) == pytest.approx(0.5)
    assert ar.overall_difference(b, a) == pytest.approx(-0.5)
    assert ar.overall_difference(a, b, "target") == pytest.approx(0.5)


def test_least_robust_by_radius():
    d, e, w = (ar.LABELS[k] for k in ar.KINDS)
    sweep = pd.DataFrame({"model": [d, e, w] * 2, "radius": [0.05] * 3 + [0.1] * 3,
                          "AS ignore-target": [0.3, 0.2, 0.1, 0.4, 0.4, 0.1]})
    assert ar.least_robust_by_radius(sweep) == {0.05: True, 0.1: False}  # a tie is not "strictly"


# ----------------------------------------------------------------------------- 6_celeba


def test_reliable_attributes():
    got = ar.reliable_attributes(np.array([0.9, np.nan, ar.RELIABLE_BALANCED_ACCURACY, 0.79]))
    assert got.tolist() == [True, False, True, False]


def test_face_seed_row_by_hand():
    frame = pd.DataFrame({"success": [True, False, True, True], "closed": [0.5, 0.1, 0.2, 0.0],
                          "attribute agreement": [1.0, np.nan, 0.0, 0.5], "agreement before": [np.nan] * 4,
                          "l2": [1.0, 3.0, 2.0, 10.0]})
    row = ar.face_seed_row("entangled", 1, frame, np.array([True, False, True]), ["Male", "Smiling", "Young"])
    assert row["model"] == "entangled" and row["seed"] == 1
    assert row["success"] == pytest.approx(0.75) and row["closed"] == pytest.approx(0.2)
    assert row["attribute agreement"] == pytest.approx(0.5) and np.isnan(row["agreement before"])
    assert row["reliable attributes"] == "Male, Young" and row["median L2"] == pytest.approx(2.5)
    assert ar.face_seed_row("x", 0, frame, np.zeros(3, bool), ["a", "b", "c"])["reliable attributes"] == "none"


def test_face_numbers_average_the_seeds():
    rows = []
    for i, kind in enumerate(ar.KINDS):
        for seed, v in enumerate([0.1, 0.3]):
            rows.append({"model": kind, "seed": seed, "success": v + i, "closed": 2 * v,
                         "attribute agreement": np.nan, "agreement before": v})
    numbers = ar.face_numbers(pd.DataFrame(rows))
    assert numbers["celeba_success_entangled"] == pytest.approx(1.2)
    assert numbers["celeba_closed_disentangled"] == pytest.approx(0.4)
    assert numbers["celeba_agreement_before_entangled_wd"] == pytest.approx(0.2)
    assert np.isnan(numbers["celeba_attribute_agreement_disentangled"])
    assert len(numbers) == 4 * len(ar.KINDS)


# ----------------------------------------------------------------------------- 7_verdict


def _mnist_celeba(ignore=(0.1, 0.05, 0.15), target=(-0.1, -0.2, -0.05), success=(0.0, -0.1, 0.1)):
    mn, cb = {}, {}
    for base in ("entangled", "entangled_wd"):
        mn[f"diff_ignore_vs_{base}"], *mn[f"diff_ignore_vs_{base}_ci"] = ignore
        mn[f"diff_target_vs_{base}"], *mn[f"diff_target_vs_{base}_ci"] = target
        cb[f"celeba_diff_success_vs_{base}"], *cb[f"celeba_diff_success_vs_{base}_ci"] = success
    return mn, cb


def test_verdict_table_by_hand():
    table = ar.verdict_table(*_mnist_celeba())
    assert len(table) == 6 and table["data set"].tolist() == ["MNIST", "MNIST", "CelebA"] * 2
    first = table.iloc[0]
    assert (first["measure"], first["baseline"], first["mean difference"]) == ("AS ignore-target", "entangled", 0.1)
    thesis = ar.paper_overall("disentangled")["ignore"] - ar.paper_overall("entangled")["ignore"]
    assert first["thesis"] == pytest.approx(thesis) and thesis == pytest.approx(0.36593 - 0.29698)
    assert np.isnan(table.iloc[2]["thesis"])
    assert table["above 0"].tolist() == [True, False, False] * 2
    assert table["below 0"].tolist() == [False, True, False] * 2


def test_decide():
    rows = lambda above, below: pd.DataFrame({"above 0": above, "below 0": below})
    assert ar.decide(rows([True, True], [False, False])) == "holds"
    assert ar.decide(rows([True, False], [False, True])) == "reversed"
    assert ar.decide(rows([True, False], [False, False])) == "not shown"


def test_data_set_verdicts_read_mnist_on_ignore_target_only():
    table = ar.verdict_table(*_mnist_celeba())  # MNIST target intervals below 0 do not count
    assert ar.data_set_verdicts(table) == {"MNIST": "holds", "CelebA": "not shown"}
    table = ar.verdict_table(*_mnist_celeba(ignore=(-0.2, -0.3, -0.1), success=(0.2, 0.1, 0.3)))
    assert ar.data_set_verdicts(table) == {"MNIST": "reversed", "CelebA": "holds"}


def test_load_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(ar, "result_path", lambda profile, part, nb: tmp_path / profile / part / f"{nb}.json")
    (tmp_path / "smoke" / ar.PART).mkdir(parents=True)
    (tmp_path / "smoke" / ar.PART / "5_attacks.json").write_text(json.dumps({"numbers": {"a": 1}}))
    assert ar.load_numbers("smoke", ("5_attacks",)) == {"5_attacks": {"a": 1}}
    with pytest.raises(FileNotFoundError, match=r"results/smoke/adversarial_robustness/6_celeba.json is missing"):
        ar.load_numbers("smoke")
