"""The author's checkpoints in our VAE (repro_lib.parts.attribution_priors.author_models), the
numbers the chapter "The author's models" scores, and the prior's cache key."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from repro_lib import cache
from repro_lib.parts.attribution_priors import author_models as am
from repro_lib.parts.attribution_priors.objectives import AttributionPrior

# lfxai EncoderBurgess / DecoderBurgess (img_size (1, 32, 32), latent_dim 3) tensor shapes.
LFXAI_SHAPES = {
    "encoder.conv1.weight": (32, 1, 4, 4), "encoder.conv1.bias": (32,),
    "encoder.conv2.weight": (32, 32, 4, 4), "encoder.conv2.bias": (32,),
    "encoder.conv3.weight": (32, 32, 4, 4), "encoder.conv3.bias": (32,),
    "encoder.lin1.weight": (256, 512), "encoder.lin1.bias": (256,),
    "encoder.lin2.weight": (256, 256), "encoder.lin2.bias": (256,),
    "encoder.mu_logvar_gen.weight": (6, 256), "encoder.mu_logvar_gen.bias": (6,),
    "decoder.lin1.weight": (256, 3), "decoder.lin1.bias": (256,),
    "decoder.lin2.weight": (256, 256), "decoder.lin2.bias": (256,),
    "decoder.lin3.weight": (512, 256), "decoder.lin3.bias": (512,),
    "decoder.convT1.weight": (32, 32, 4, 4), "decoder.convT1.bias": (32,),
    "decoder.convT2.weight": (32, 32, 4, 4), "decoder.convT2.bias": (32,),
    "decoder.convT3.weight": (32, 1, 4, 4), "decoder.convT3.bias": (1,),
}


def random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) * 0.1 for k, shape in LFXAI_SHAPES.items()}


def hand_forward(sd: dict[str, torch.Tensor], x: torch.Tensor):
    """lfxai's EncoderBurgess.forward and DecoderBurgess.forward written out on the raw tensors:
    three 4x4 stride-2 convolutions, two dense layers, the 6-unit head whose outputs 0, 2, 4 are
    the means and 1, 3, 5 the log-variances; the decoder mirrors it and ends in a sigmoid."""
    h = x
    for name in ("conv1", "conv2", "conv3"):
        h = torch.relu(F.conv2d(h, sd[f"encoder.{name}.weight"], sd[f"encoder.{name}.bias"], stride=2, padding=1))
    h = h.reshape(h.shape[0], -1)
    h = torch.relu(F.linear(h, sd["encoder.lin1.weight"], sd["encoder.lin1.bias"]))
    h = torch.relu(F.linear(h, sd["encoder.lin2.weight"], sd["encoder.lin2.bias"]))
    out = F.linear(h, sd["encoder.mu_logvar_gen.weight"], sd["encoder.mu_logvar_gen.bias"])
    mu = torch.stack([out[:, 0], out[:, 2], out[:, 4]], dim=1)
    logvar = torch.stack([out[:, 1], out[:, 3], out[:, 5]], dim=1)
    z = mu
    d = torch.relu(F.linear(z, sd["decoder.lin1.weight"], sd["decoder.lin1.bias"]))
    d = torch.relu(F.linear(d, sd["decoder.lin2.weight"], sd["decoder.lin2.bias"]))
    d = torch.relu(F.linear(d, sd["decoder.lin3.weight"], sd["decoder.lin3.bias"]))
    d = d.reshape(-1, 32, 4, 4)
    for name in ("convT1", "convT2"):
        d = torch.relu(F.conv_transpose2d(d, sd[f"decoder.{name}.weight"], sd[f"decoder.{name}.bias"],
                                          stride=2, padding=1))
    recon = torch.sigmoid(F.conv_transpose2d(d, sd["decoder.convT3.weight"], sd["decoder.convT3.bias"],
                                             stride=2, padding=1))
    return mu, logvar, recon


def assert_matches_hand_forward(sd, x):
    model = am.load_author_model(sd, device="cpu")
    mu, logvar, recon = hand_forward(sd, x)
    with torch.no_grad():
        post = model.encode(x)
        out = model(x)  # eval mode: z = mu
        torch.testing.assert_close(post.mu, mu, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(post.logvar, logvar, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(model.encode_mean(x), mu, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out.recon, recon, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(model.decode(mu), recon, rtol=1e-5, atol=1e-6)
    # the split matters: taking the head's first three rows as the means gives other values
    naive = model.encoder.dense(model.encoder.convs(x)) @ sd["encoder.mu_logvar_gen.weight"][:3].T \
        + sd["encoder.mu_logvar_gen.bias"][:3]
    assert not torch.allclose(naive.detach(), mu, atol=1e-3)
    return model


def test_loaded_model_equals_hand_written_forward_on_random_weights():
    x = torch.rand(5, 1, 32, 32)
    assert_matches_hand_forward(random_state(0), x)


def test_loaded_author_checkpoint_equals_hand_written_forward():
    try:
        cat = am.catalogue()
    except Exception as err:  # the registry names what is missing and where to put it
        pytest.skip(f"author's checkpoints not available: {err}")
    x = torch.rand(4, 1, 32, 32) * (torch.rand(4, 1, 32, 32) < 0.3)
    for stem in ("Beta-vae_beta1_run1", "Entropy-vae_alpha5_run1"):
        path = cat.set_index("stem").loc[stem, "path"]
        sd = torch.load(path, map_location="cpu", weights_only=True)
        assert {k: tuple(v.shape) for k, v in sd.items()} == LFXAI_SHAPES
        assert_matches_hand_forward(sd, x)


@pytest.mark.parametrize("change,message", [
    (lambda sd: sd.pop("encoder.lin2.bias"), r"missing \['encoder.lin2.bias'\]"),
    (lambda sd: sd.update({"encoder.conv_64.weight": torch.zeros(32, 32, 4, 4)}),
     r"unexpected \['encoder.conv_64.weight'\]"),
    (lambda sd: sd.update({"decoder.lin3.weight": torch.zeros(512, 128)}),
     r"decoder.dense.4.weight: \(512, 128\), expected \(512, 256\)"),
    (lambda sd: sd.update({"encoder.mu_logvar_gen.weight": torch.zeros(20, 256),
                           "encoder.mu_logvar_gen.bias": torch.zeros(20)}), r"has 20 rows"),
])
def test_bad_checkpoints_are_refused_by_name(change, message):
    sd = random_state(1)
    change(sd)
    with pytest.raises(ValueError, match=message):
        am.convert_state_dict(sd)


def test_parse_stem():
    assert am.parse_stem("Pearson-vae_alpha10_run3") == {"stem": "Pearson-vae_alpha10_run3", "prior": "pearson",
                                                         "lam": 10.0, "run": 3}
    assert am.parse_stem("Beta-vae_beta1_run1")["prior"] == "none"
    assert am.parse_stem("Beta-vae_beta1_run1")["lam"] == 0.0
    assert am.parse_stem("TotalVariation-vae_alpha0.001_run1")["lam"] == 0.001
    assert am.parse_stem("Entropy-vae_alpha0.5_run5")["prior"] == "entropy"
    with pytest.raises(ValueError, match="not a checkpoint name"):
        am.parse_stem("model")


def test_author_reported_table_covers_the_checkpoints():
    stems = set(am.AUTHOR_REPORTED)
    assert len(stems) == 41  # every checkpoint but TotalVariation-vae_alpha0_run1
    groups = pd.DataFrame([am.parse_stem(s) for s in stems]).groupby(["prior", "lam"]).size()
    assert groups.loc[("none", 0.0)] == 5 and groups.loc[("pearson", 10.0)] == 5 and groups.loc[("tv", 0.01)] == 1
    # the captum numbers for the plain run 1 are the author's
    assert am.AUTHOR_REPORTED["Beta-vae_beta1_run1"][:2] == (0.281861, 0.715246)


# ----------------------------------------------------------------------- claim numbers

def _frame():
    """Hand-made evaluate_all rows: 5 plain, 5 per entropy/Pearson lambda, two TV models."""
    rows = []

    def add(stem, **m):
        rows.append({**am.parse_stem(stem), **{"pearson": 0.3, "entropy": 0.7, "recon_test": 100.0, "tv": 1.0,
                                               "dominant_share": 0.4, "active_latents": 3}, **m})

    for r in range(1, 6):
        add(f"Beta-vae_beta1_run{r}", pearson=0.25 + 0.01 * r, entropy=0.70 + 0.001 * r, recon_test=100.0 + r,
            tv=5.0 + r)
        for lam, p in ((1, 0.2), (5, 0.15), (10, 0.05)):
            add(f"Pearson-vae_alpha{lam}_run{r}", pearson=p + 0.01 * r, entropy=0.7 - 0.01 * lam + 0.002 * r,
                recon_test=100.0 - lam / 5 + r * 0.5, dominant_share=0.4 + 0.01 * r)
        for lam in (0.5, 1, 5):
            add(f"Entropy-vae_alpha{lam}_run{r}", pearson=0.3 + 0.05 * lam + 0.01 * r,
                entropy=0.7 - 0.1 * lam + 0.002 * r,
                recon_test=100.0 + 10 * lam + r, dominant_share=0.95 if (lam == 1 and r <= 2) else 0.5)
    add("TotalVariation-vae_alpha0.01_run1", tv=0.12, recon_test=103.5)
    add("TotalVariation-vae_alpha0_run1", tv=7.2)
    return pd.DataFrame(rows)


def test_claim_numbers_by_hand():
    frame = _frame()
    got = am.claim_numbers(frame)
    assert got["tv_ratio"] == pytest.approx(6.0 / 0.12)                 # run 1 of the plain VAE: tv 6
    # plain tv 6..10, mean 8, sd sqrt(2.5): t interval 8 -/+ t(4, 0.975) sqrt(2.5 / 5)
    half_tv = stats.t.ppf(0.975, 4) * math.sqrt(2.5 / 5)
    assert got["tv_ratio_plain_mean"] == pytest.approx(8.0 / 0.12)
    assert got["tv_ratio_plain_mean_ci"] == pytest.approx([(8.0 - half_tv) / 0.12, (8.0 + half_tv) / 0.12])
    # recon: plain 101..105 (mean 103, the same spread): TV 103.5 - [103 + half, 103 - half], in % of 103
    assert got["recon_increase_pct_ci"] == pytest.approx([100 * (0.5 - half_tv) / 103, 100 * (0.5 + half_tv) / 103])
    assert got["tv_ratio_vs_tv_alpha0"] == pytest.approx(7.2 / 0.12)
    assert got["recon_increase_pct"] == pytest.approx(100 * (103.5 - 103.0) / 103.0)   # plain mean 103
    assert got["recon_increase_pct_run1"] == pytest.approx(100 * (103.5 - 101.0) / 101.0)
    # Pearson at lambda 10: 0.06..0.10 (mean 0.08) against plain 0.26..0.30 (mean 0.28)
    assert got["pearson_pearson_diff"] == pytest.approx(-0.2)
    plain = [0.26, 0.27, 0.28, 0.29, 0.30]
    top = [0.06, 0.07, 0.08, 0.09, 0.10]
    ci = stats.ttest_ind(top, plain, equal_var=False).confidence_interval(0.95)
    assert (got["pearson_pearson_diff_lo"], got["pearson_pearson_diff_hi"]) == pytest.approx((ci.low, ci.high))
    assert got["pearson_pearson_diff_ci"] == pytest.approx([ci.low, ci.high])
    # Welch with equal spreads: -0.2 -/+ t(8, 0.975) * sqrt(2 * 0.00025 / 5)
    half = stats.t.ppf(0.975, 8) * math.sqrt(2 * 0.00025 / 5)
    assert got["pearson_pearson_diff_hi"] == pytest.approx(-0.2 + half)
    mean, lo, hi = 0.08, *stats.ttest_1samp(top, 0.0).confidence_interval(0.95)
    assert got["pearson_lambda10_mean"] == pytest.approx(mean)
    assert got["pearson_lambda10_ci_max_abs"] == pytest.approx(max(abs(lo), abs(hi)))
    assert got["pearson_lambda10_ci"] == pytest.approx([lo, hi])
    # recon at lambda 10 vs 5: 98 + 0.5 r against 99 + 0.5 r -> -1, zero spread difference
    assert got["pearson_recon_10_vs_5_diff"] == pytest.approx(-1.0)
    assert got["entropy_recon_diff"] == pytest.approx(50.0) and got["entropy_recon_diff_lo"] > 0
    assert got["entropy_lambda1_collapsed_runs"] == 2
    assert got["entropy_lambda1_max_dominant_share"] == pytest.approx(0.95)
    assert got["pearson_prior_max_dominant_share"] == pytest.approx(0.45)
    assert got["plain_recon_max"] == 105.0 and got["plain_active_latents_min"] == 3
    # Spearman over plain + entropy runs: entropy falls with lambda
    assert got["entropy_entropy_spearman"] < -0.9 and got["pearson_pearson_spearman"] < -0.9


def test_direction_intervals_can_fail():
    # noise larger than the effect: the interval straddles 0, so a "< 0" claim on `_hi` fails
    frame = _frame()
    sel = (frame.prior == "pearson") & (frame.lam == 10.0)
    frame.loc[sel, "pearson"] = [0.1, 0.5, 0.2, 0.45, 0.15]
    got = am.claim_numbers(frame)
    assert got["pearson_pearson_diff_lo"] < 0 < got["pearson_pearson_diff_hi"]


def test_group_ranges_and_agreement():
    frame = _frame()
    ranges = am.group_ranges(frame)
    assert ranges.loc["plain", "pearson min"] == pytest.approx(0.26)
    assert ranges.loc["plain", "recon_test max"] == pytest.approx(105.0)
    assert ranges.loc["TV 0.01", "runs"] == 1
    frame["active_neurons"] = 1.2
    for k in ("pearson", "entropy", "active_neurons", "recon"):
        frame[f"author_{k}"] = np.nan
    frame.loc[0, ["author_pearson", "author_entropy", "author_active_neurons", "author_recon"]] = \
        [0.27 - 0.02, 0.701, 1.25, 101.5]  # row 0: pearson 0.26, entropy 0.701, recon 101
    got = am.agreement_with_author(frame)
    assert got["author_pearson_max_abs_diff"] == pytest.approx(0.01)
    assert got["author_entropy_max_abs_diff"] == pytest.approx(0.0, abs=1e-12)
    assert got["author_active_neurons_median_diff"] == pytest.approx(-0.05)
    assert got["author_recon_median_diff"] == pytest.approx(-0.5)
    assert got["author_recon_max_abs_diff_plain_pearson"] == pytest.approx(0.5)  # row 0 is a plain run


def test_beside_and_boxplots():
    frame = _frame()
    ours = frame[frame.prior.isin(["none", "pearson"])].rename(columns={"run": "seed"})
    table = am.beside(frame, ours, "ours (smoke)")
    assert table.loc[("plain", "author's models"), "pearson"] == "0.280 [0.260, 0.300]"
    assert ("entropy 1", "ours (smoke)") not in table.index
    fig = am.boxplots_beside({"author": frame[frame.prior == "pearson"], "ours": frame.iloc[:0]}, ["pearson"])
    assert len(fig.axes) == 2


def test_example_indices_take_the_first_of_each_digit():
    labels = torch.tensor([3, 1, 0, 1, 2, 0])
    assert am.example_indices(labels, 4) == [2, 1, 4, 0]


# ----------------------------------------------------------------------- the prior's cache key

def test_prior_cache_key_changes_with_the_per_unit_draws():
    # Models trained while Gradient SHAP shared one draw across latent units had objective
    # descriptions without `gs_draws`; the new field changes every prior model's cache key.
    prior = AttributionPrior("pearson", 10.0, prior_batch=100)
    description = prior.describe()
    assert description["gs_draws"] == "per_unit"
    before = {k: v for k, v in description.items() if k != "gs_draws"}
    assert cache.key_of({"objective": description}) != cache.key_of({"objective": before})
    with pytest.raises(ValueError, match="gs_draws must be 'per_unit'"):
        AttributionPrior("pearson", 1.0, gs_draws="shared")


def test_tv_prior_sums_over_the_batch_as_eq_2():
    """Omega_pixel (Eq. 2) sums each image's total variation over the batch (the author's
    torchmetrics `TotalVariation`, reduction "sum"); estimated on `prior_batch` images, it is
    scaled to the batch. Only the TV prior carries the field, so the other priors' keys stay."""
    from repro_lib.models import BurgessVAE
    from repro_lib.parts.attribution_priors.attribution import latent_saliency
    from repro_lib.parts.attribution_priors.saliency import total_variation

    torch.manual_seed(0)
    model = BurgessVAE(latent_dim=3)
    x = torch.rand(8, 1, 32, 32)
    for prior_batch, scale in ((None, 1.0), (4, 2.0)):
        objective = AttributionPrior("tv", 0.01, prior_batch=prior_batch)
        assert objective.describe()["tv_batch_sum"] is True
        torch.manual_seed(1)
        omega = objective(model, x)["prior"]
        torch.manual_seed(1)
        model(x)  # the same draws as the objective's forward pass
        _, sal = latent_saliency(model.encode_mean, x[:prior_batch], n_samples=5)
        maps = sal.detach().sum(2)  # (B', 3, 32, 32)
        by_hand = sum(float(total_variation(maps[b, j])) for b in range(len(maps)) for j in range(3))
        assert float(omega) == pytest.approx(scale * by_hand, rel=1e-4)
    assert "tv_batch_sum" not in AttributionPrior("pearson", 1.0).describe()
    with pytest.raises(ValueError, match="tv_batch_sum is set by the TV prior"):
        AttributionPrior("entropy", 1.0, tv_batch_sum=True)


def test_claims_table_names_every_claim():
    table = am.claims_table(am.claim_numbers(_frame()))
    assert len(table) == 12
    assert table.loc["TV prior: mean TV of the plain VAE / TV prior (lambda 0.01)", "document"] == "50x"
    ours = table.loc["pearson prior: Pearson, lambda 10 minus plain", "author's models, our metrics"]
    assert ours.startswith("-0.200 [")


# ----------------------------------------------------------------------- evaluation pieces

def test_evaluate_equals_the_metrics_of_the_saliency_maps():
    from repro_lib.models.vae import gaussian_kl_per_dim
    from repro_lib.objectives import reconstruction_error
    from repro_lib.parts.attribution_priors.attribution import latent_saliency
    from repro_lib.parts.attribution_priors.saliency import attribution_entropy, pearson_correlation

    model = am.load_author_model(random_state(2), device="cpu")
    x = torch.rand(12, 1, 32, 32) * (torch.rand(12, 1, 32, 32) < 0.3)
    got = am.evaluate(model, x, n_samples=3, seed=7)
    # the same draws on the model as it is (saliency_maps uses a channels-last copy)
    torch.manual_seed(7)
    _, sal = latent_saliency(model.encode_mean, x, n_samples=3)
    maps = sal.detach().sum(2)
    lfxai = maps.numpy().swapaxes(0, 1).reshape(3, -1)
    corr = np.corrcoef(lfxai)
    assert got["pearson"] == pytest.approx((corr.sum() - np.trace(corr)) / 6, abs=1e-5)
    assert got["entropy"] == pytest.approx(float(attribution_entropy(maps)), abs=1e-5)
    assert got["pearson"] == pytest.approx(float(pearson_correlation(maps)), abs=1e-5)
    assert got["recon_test"] == pytest.approx(reconstruction_error(model, x))
    with torch.no_grad():
        post = model.encode(x)
    kl = gaussian_kl_per_dim(post.mu, post.logvar)
    assert got["kl_test"] == pytest.approx(float(kl.sum()), rel=1e-5)
    assert got["active_latents"] == int((kl > 0.1).sum())
    assert 0 < got["dominant_share"] <= 1 and 1 <= got["active_neurons"] < 3


def test_mean_total_variation_is_that_of_the_saliency_maps():
    from repro_lib.parts.attribution_priors import recipes
    from repro_lib.parts.attribution_priors.saliency import total_variation

    model = am.load_author_model(random_state(4), device="cpu")
    x = torch.rand(5, 1, 32, 32)
    maps = recipes.saliency_maps(model, 255 * x, 2, seed=3)
    assert am.mean_total_variation(model, 255 * x, 2, seed=3) == pytest.approx(float(total_variation(maps)))


def test_shared_draw_metrics_use_one_draw_for_all_units():
    from repro_lib.parts.attribution_priors.attribution import gradient_shap
    from repro_lib.parts.attribution_priors.saliency import attribution_entropy, pearson_correlation

    model = am.load_author_model(random_state(3), device="cpu")
    x = torch.rand(6, 1, 32, 32)
    got = am.shared_draw_metrics(model, x, n_samples=2, seed=5, batch_size=4)
    gen = torch.Generator().manual_seed(5)
    maps = []
    for xb in (x[:4], x[4:]):
        a = torch.rand((1, len(xb) * 2), generator=gen).expand(3, -1)
        gs = gradient_shap(model.encode_mean, xb, torch.zeros(1, 1, 32, 32), 2, alphas=a)
        mu = model.encode_mean(xb).detach()
        maps.append((mu.T[:, :, None, None, None] * gs).abs().sum(2).transpose(0, 1))
    maps = torch.cat(maps)
    assert got["pearson"] == pytest.approx(float(pearson_correlation(maps)), abs=1e-6)
    assert got["entropy"] == pytest.approx(float(attribution_entropy(maps)), abs=1e-6)


def test_our_models_reads_the_result_files(tmp_path, monkeypatch):
    import json

    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)
    frame, note = am.our_models("smoke")
    assert frame.empty and "4_1_pixel_prior.json missing" in note
    plain = {"model": "VAE", "prior": "none", "lam": 0.0, "seed": 0, "path": "faithful", "pearson": 0.5}
    for notebook, rows in (("4_2_entropy_prior", [plain, {**plain, "prior": "entropy", "lam": 1.0}]),
                           ("4_3_pearson_prior", [plain, {**plain, "prior": "pearson", "lam": 10.0}])):
        path = tmp_path / "smoke" / "attribution_priors" / f"{notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"part": "attribution_priors", "notebook": notebook, "profile": "smoke",
                                    "overrides": {}, "numbers": {"models": rows}}))
    frame, note = am.our_models("smoke")
    assert sorted(frame.prior) == ["entropy", "none", "pearson"]  # the plain VAE once
    assert "4_2_entropy_prior.json read" in note and "4_1_pixel_prior.json missing" in note
