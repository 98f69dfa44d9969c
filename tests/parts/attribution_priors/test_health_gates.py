"""A collapsed plain VAE makes the claims on our own models inconclusive, naming the gate, where
without the gates some of them would hold; the same claims are decided on healthy models."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from repro_lib import scorecard
from repro_lib.models import BurgessVAE
from repro_lib.parts.attribution_priors import recipes as ap

OWN = ("4_1_pixel_prior", "4_2_entropy_prior", "4_3_pearson_prior")
COLUMNS = ["model", "prior", "lam", "seed", "recon_test", "tv", "tv_scale_free", "mu_abs", "entropy", "pearson",
           "dominant_share", "active_latents"]


def collapsed_vae() -> BurgessVAE:
    """A VAE with one working unit and two dormant ones (means 1e-3 of the first's scale,
    log-variance 0: they copy the prior), as an undertrained plain VAE under `cpu` was."""
    torch.manual_seed(0)
    model = BurgessVAE(latent_dim=3)
    with torch.no_grad():
        model.encoder.mu_head.weight[0] *= 20.0
        model.encoder.mu_head.weight[1:] *= 1e-3
        model.encoder.mu_head.bias[1:] = 0.0
        model.encoder.logvar_head.weight[1:] = 0.0
        model.encoder.logvar_head.bias[1:] = 0.0
    return model.eval()


def _row(model, lam, seed, recon, entropy, pearson, share, active=3, tv=50.0, prior="none"):
    return dict(zip(COLUMNS, [model, prior, lam, seed, recon, tv, 1.0, 1.0, entropy, pearson, share, active]))


def healthy_plain() -> list[dict]:
    return [_row("VAE", 0.0, 0, 170.0, 0.70, 0.26, 0.38), _row("VAE", 0.0, 1, 170.2, 0.72, 0.28, 0.40, tv=52.0)]


def frames(plain: list[dict]) -> dict[str, tuple]:
    """The three chapters' model tables around the given plain rows, with prior runs on which
    each claim holds (the document's directions, a collapse at lambda = 1, Pearson near 0)."""
    tv = [_row("tv", 0.01, 0, 170.3, 0.70, 0.27, 0.38, tv=1.0, prior="tv")]
    entropy = [_row("entropy", 1.0, s, 230.0 + 2 * s, 0.02 + 0.01 * s, 0.50 + 0.02 * s, 0.99, prior="entropy")
               for s in range(2)]
    pearson = [_row("pearson", 10.0, s, 165.0 + 0.5 * s, 0.60 + 0.01 * s, 0.01 + 0.01 * s, 0.40 + 0.02 * s,
                    prior="pearson") for s in range(2)]
    disentangled = pd.DataFrame([_row("beta-VAE", 0.0, s, 180.0, 0.7, 0.30 + 0.02 * s, 0.4) for s in range(2)] +
                                [_row("beta-TCVAE", 0.0, s, 180.0, 0.7, 0.28 + 0.01 * s, 0.4) for s in range(2)])
    return {
        "4_1_pixel_prior": ap.tv_prior_numbers(pd.DataFrame(plain + tv), 0.01)
        | ap.plain_health(pd.DataFrame(plain + tv)),
        "4_2_entropy_prior": ap.entropy_prior_numbers(pd.DataFrame(plain + entropy), 1.0),
        "4_3_pearson_prior": ap.pearson_prior_numbers(pd.DataFrame(plain + pearson), disentangled, 10.0),
    }


def _json_safe(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def score(tmp_path, monkeypatch, numbers: dict[str, dict], gated: bool = True) -> pd.DataFrame:
    """The real claims file scored against result files holding `numbers` (one per chapter)."""
    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)
    for notebook, values in numbers.items():
        path = tmp_path / "cpu" / ap.PART / f"{notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"part": ap.PART, "notebook": notebook, "profile": "cpu", "overrides": {},
                                    "numbers": {k: _json_safe(v) for k, v in values.items()}}))
    if not gated:
        targets = scorecard.load_targets()
        for claim in targets[ap.PART]["claims"]:
            claim.pop("gates", None)
        monkeypatch.setattr(scorecard, "load_targets", lambda: targets)
    table = scorecard.scorecard("cpu")
    claims = {c["claim"]: c for c in scorecard.load_targets()[ap.PART]["claims"]}
    table = table[table.part == ap.PART].copy()
    table["notebook"] = table.claim.map(lambda text: claims[text]["notebook"])
    table["id"] = table.claim.map(lambda text: claims[text]["id"])
    return table[table.notebook.isin(OWN)].set_index("id")


def test_the_collapsed_vae_fails_the_plain_gates():
    splits = SimpleNamespace(test=torch.rand(40, 1, 32, 32), eval=torch.rand(16, 1, 32, 32))
    got = ap.measure(collapsed_vae(), splits, n_samples=3)
    assert got["active_latents"] == 1 and got["dominant_share"] > 0.99 and got["recon_test"] > 195
    health = ap.plain_health(pd.DataFrame([{"model": "VAE", **got}, {"model": "VAE", **got}]))
    table = ap.health_table(health, "4_2_entropy_prior")
    assert not table.passes.any(), table


def test_every_own_model_claim_has_the_plain_gates():
    doc = scorecard.load_targets()[ap.PART]
    for claim in doc["claims"]:
        if claim["notebook"] in OWN:
            short = claim["notebook"][:3]
            assert {f"plain_recon_{short}", f"plain_latents_{short}", f"plain_share_{short}"} <= set(claim["gates"])
            assert all(doc["gates"][g]["notebook"] == claim["notebook"] for g in claim["gates"]), claim["id"]


def test_healthy_models_decide_every_own_model_claim(tmp_path, monkeypatch):
    table = score(tmp_path, monkeypatch, frames(healthy_plain()))
    assert (table.verdict == "holds").all(), table[["verdict", "why"]]


def test_a_collapsed_plain_vae_makes_them_inconclusive_not_held(tmp_path, monkeypatch):
    splits = SimpleNamespace(test=torch.rand(40, 1, 32, 32), eval=torch.rand(16, 1, 32, 32))
    measured = ap.measure(collapsed_vae(), splits, n_samples=3)
    plain = [{**row, **{k: measured[k] * (1 + 0.01 * row["seed"]) for k in
                        ("recon_test", "tv", "tv_scale_free", "mu_abs", "entropy", "pearson")},
              "dominant_share": measured["dominant_share"], "active_latents": measured["active_latents"]}
             for row in healthy_plain()]
    numbers = frames(plain)
    ungated = score(tmp_path, monkeypatch, numbers, gated=False)
    # the case: without gates the collapse claim holds trivially on a collapsed model
    assert ungated.loc["entropy_prior_collapse", "verdict"] == "holds"
    assert (ungated.verdict == "holds").sum() >= 3, ungated[["verdict", "why"]]
    monkeypatch.undo()
    table = score(tmp_path, monkeypatch, numbers)
    assert (table.verdict == "inconclusive").all(), table[["verdict", "why"]]
    for why in table.why:
        assert "gate plain_latents_" in why and "gate plain_share_" in why and "gate plain_recon_" in why, why


@pytest.mark.parametrize("gate_measure, value, gate", [
    ("plain_recon_max", 236.0, "plain_recon_4_2"),          # the undertrained cpu model of the issue
    ("plain_active_latents_min", 2, "plain_latents_4_2"),
    ("plain_dominant_share_max", 0.98, "plain_share_4_2"),
])
def test_each_plain_gate_alone_stops_a_claim(tmp_path, monkeypatch, gate_measure, value, gate):
    numbers = frames(healthy_plain())
    numbers["4_2_entropy_prior"][gate_measure] = value
    table = score(tmp_path, monkeypatch, numbers)
    row = table.loc["entropy_prior_collapse"]
    assert row.verdict == "inconclusive" and f"gate {gate} failed" in row.why
    assert table.loc["tv_ratio", "verdict"] == "holds"      # another chapter's claims are untouched


def test_a_dead_unit_under_the_pearson_prior_stops_near_zero(tmp_path, monkeypatch):
    numbers = frames(healthy_plain())
    numbers["4_3_pearson_prior"]["top_active_latents_min"] = 2
    table = score(tmp_path, monkeypatch, numbers)
    assert table.loc["pearson_prior_near_zero", "verdict"] == "inconclusive"
    assert "gate pearson_top_latents failed" in table.loc["pearson_prior_near_zero", "why"]
    assert table.loc["pearson_prior_pearson", "verdict"] == "holds"


def test_one_plain_run_leaves_the_claims_against_it_undecided(tmp_path, monkeypatch):
    plain = healthy_plain()[:1]
    numbers = frames(plain)
    table = score(tmp_path, monkeypatch, numbers)
    for claim_id in ("entropy_prior_entropy", "entropy_prior_pearson", "entropy_prior_recon", "pearson_prior_pearson",
                     "pearson_prior_entropy", "pearson_prior_recon", "tv_ratio", "tv_recon_cost"):
        assert table.loc[claim_id, "verdict"] == "inconclusive", claim_id
        assert "no interval" in table.loc[claim_id, "why"]
