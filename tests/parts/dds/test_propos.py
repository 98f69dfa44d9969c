"""ProPos and DDS + ProPos (repro_lib/parts/dds/propos.py), the clustering recipes, and Tables
1-2 as transcribed from document 000's text, with the Section 4.1 claims' derived numbers."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from repro_lib.parts.dds import PROFILES
from repro_lib.parts.dds import propos as pp
from repro_lib.parts.dds import recipes as dr
from repro_lib.paths import repo_root, seeds_dir
from repro_lib.profiles import Settings

DOCUMENT = (seeds_dir() or Path("/nonexistent")) / "000_dae057af8475774f.txt"
SMOKE = Settings(PROFILES["smoke"])
CLAIMS = yaml.safe_load((repo_root() / "book" / "dds" / "claims.yaml").read_text())["claims"]
needs_document = pytest.mark.skipif(not DOCUMENT.exists(), reason="the seeds folder is not beside the repository")


def _tiny(dds_m=0, **kw):
    torch.manual_seed(0)
    return pp.ProPos(blocks=(1, 1, 1, 1), width=4, hidden=16, feat_dim=8, dds_m=dds_m, dds_channels=2, **kw)


# ----------------------------------------------------------------------------- loss


def test_prototype_scattering_loss_against_a_hand_computed_case():
    # two present classes, one absent; unit vectors in the plane so the logits are easy
    q = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[0.6, 0.8], [0.0, 0.0], [0.0, 1.0]])
    present = torch.tensor([True, False, True])
    t = 0.5
    # class 0: logits [<q0,k0>/t, -10, <q0,q2>/t] = [1.2, -10, 0]; class 2: [<q2,q0>/t, -10, <q2,k2>/t] = [0, -10, 2]
    l0 = -1.2 + math.log(math.exp(1.2) + math.exp(-10) + math.exp(0))
    l2 = -2.0 + math.log(math.exp(0) + math.exp(-10) + math.exp(2.0))
    ours = pp.prototype_scattering_loss(q, k, present, t)
    assert float(ours) == pytest.approx((l0 + l2) / 2, rel=1e-6)


def test_cluster_centres_are_normalised_class_means():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [2.0, 2.0]])
    labels = torch.tensor([0, 0, 2, 2])
    c = pp.cluster_centres(z, labels, 3)
    assert torch.allclose(c[0], torch.tensor([1.0, 1.0]) / math.sqrt(2))
    assert torch.equal(c[1], torch.zeros(2))
    assert torch.allclose(c[2], F.normalize(torch.tensor([2.5, 3.0]), dim=0))


def test_byol_term_is_minus_twice_the_mean_cosine():
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    t = torch.tensor([[2.0, 0.0], [-1.0, 1.0]])
    assert float(pp.byol_term(p, t)) == pytest.approx(-2 * (1.0 + 0.0) / 2)


def test_propos_loss_without_warmup_adds_the_weighted_cluster_term():
    model = _tiny()
    model.train()
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 0, 1])
    torch.manual_seed(1)
    cold = pp.ProPosLoss(latent_std=0.0)(model, x, x.flip(-1), labels, 3, warm=False)
    torch.manual_seed(1)
    warm = pp.ProPosLoss(latent_std=0.0, cluster_weight=0.1)(model, x, x.flip(-1), labels, 3, warm=True)
    assert float(cold["loss"].detach()) == pytest.approx(float(cold["byol"]), abs=1e-6)
    assert float(warm["loss"].detach()) == pytest.approx(float(warm["byol"] + 0.1 * warm["cluster"]), rel=1e-5)


# ----------------------------------------------------------------------------- EMA, training step


def test_ema_update_is_exact():
    target = [torch.nn.Parameter(torch.tensor([1.0, 2.0]), requires_grad=False)]
    online = [torch.nn.Parameter(torch.tensor([3.0, -2.0]))]
    pp.ema_update(target, online, 0.75)
    assert torch.equal(target[0].data, torch.tensor([0.75 * 1 + 0.25 * 3, 0.75 * 2 + 0.25 * -2]))
    assert torch.equal(online[0].data, torch.tensor([3.0, -2.0]))


def test_target_starts_as_a_copy_and_takes_no_gradient():
    model = _tiny()
    for a, b in zip(model.online_parameters(), model.target_parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
        assert not b.requires_grad


@pytest.mark.parametrize("dds_m", [0, 102])
def test_one_training_step_moves_online_and_target_as_it_should(dds_m):
    model = _tiny(dds_m)
    s = pp.ProPosSettings(epochs=1, batch_size=8, warmup_epochs=0)
    opt = pp.make_optimiser(model, s)
    for group in opt.param_groups:
        group["lr"] = 0.05
    model.train()
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 0, 1])
    online0 = [p.detach().clone() for p in model.online_parameters()]
    target0 = [p.detach().clone() for p in model.target_parameters()]
    pred0 = [p.detach().clone() for p in model.predictor.parameters()]
    sel0 = [p.detach().clone() for p in model.dds.parameters()] if dds_m else []
    pp.training_step(model, pp.ProPosLoss(), opt, x, x.flip(-1), labels, 3, True, 0.9)
    online1 = list(model.online_parameters())
    assert any(not torch.equal(a, b) for a, b in zip(online0, online1))
    assert any(not torch.equal(a, b) for a, b in zip(pred0, model.predictor.parameters()))
    if dds_m:  # g learns through the online branch
        assert any(not torch.equal(a, b) for a, b in zip(sel0, model.dds.parameters()))
    for t0, t1, o1 in zip(target0, model.target_parameters(), online1):
        assert torch.allclose(t1, 0.9 * t0 + 0.1 * o1.detach(), atol=1e-7)


def test_a_few_steps_on_one_batch_lower_the_loss():
    model = _tiny()
    s = pp.ProPosSettings(epochs=1, batch_size=16, warmup_epochs=0)
    opt = pp.make_optimiser(model, s)
    for group in opt.param_groups:
        group["lr"] = 0.05
    model.train()
    x = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(16) % 4
    v1, v2 = x, x.flip(-1)
    loss = pp.ProPosLoss(latent_std=0.0)
    torch.manual_seed(0)
    first = float(loss(model, v1, v2, labels, 4)["loss"].detach())
    for _ in range(15):
        pp.training_step(model, loss, opt, v1, v2, labels, 4, True, 0.99)
    assert float(loss(model, v1, v2, labels, 4)["loss"].detach()) < first


# ----------------------------------------------------------------------------- DDS attachment


def test_dds_passes_exactly_m_pixels_per_view_in_eval_and_m_or_all_in_training():
    model = _tiny(dds_m=102)
    x = torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(0)) + 0.1  # no zero pixel
    model.eval()
    online, target = model.views(x)
    kept = (online != 0).any(1).flatten(1).sum(1)
    assert kept.tolist() == [102] * 12
    assert torch.equal(online, target)  # the target sees the same masked view
    # every colour channel of a kept pixel is kept (the mask is per pixel)
    assert bool(((online != 0).all(1) == (online != 0).any(1)).all())
    model.train()
    torch.manual_seed(0)
    online, target = model.views(torch.rand(400, 3, 32, 32) + 0.1)
    counts = (online != 0).any(1).flatten(1).sum(1)
    assert set(counts.tolist()) <= {102, 1024} and 1024 in counts.tolist()
    assert not target.requires_grad and online.requires_grad


def test_without_dds_on_the_target_the_target_sees_the_unmasked_view():
    model = _tiny(dds_m=256, dds_target=False)
    model.eval()
    x = torch.rand(3, 3, 32, 32)
    online, target = model.views(x)
    assert torch.equal(target, x) and not torch.equal(online, x)


def test_m_is_the_fraction_of_the_pixel_grid():
    assert dr.dds_m(0.10) == 102 and dr.dds_m(0.25) == 256 and dr.dds_m(0.25, 64, 64) == 1024
    with pytest.raises(ValueError, match="fraction"):
        dr.dds_m(0.0)


# ----------------------------------------------------------------------------- schedule, k-means, scores


def test_lr_schedule_is_propos_warmup_then_cosine():
    s = pp.ProPosSettings(epochs=10, batch_size=256, lr=0.1, warmup_epochs=2)
    assert pp.propos_lr(5, 10, s) == pytest.approx(0.1 * 0.5 / 2)  # epoch 0.5 of 2 warm-up epochs
    assert pp.propos_lr(20, 10, s) == pytest.approx(0.1)  # end of warm-up: cos(0)
    assert pp.propos_lr(70, 10, s) == pytest.approx(0.05 * (1 + math.cos(math.pi * 5 / 10)))
    # the learning rate is per 256 images: batch 128 halves it
    half = pp.ProPosSettings(epochs=10, batch_size=128, lr=0.1, warmup_epochs=2)
    assert pp.propos_lr(20, 10, half) == pytest.approx(0.05)


def test_kmeans_labels_recover_separated_blobs_and_are_seeded():
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 10
    x = torch.tensor(np.concatenate([c + rng.normal(size=(30, 3)) for c in centres]))
    y = np.repeat(np.arange(3), 30)
    labels = pp.kmeans_labels(x, 3, seed=0)
    assert np.array_equal(labels, pp.kmeans_labels(x, 3, seed=0))
    assert pp.clustering_scores(y, labels)["acc"] == 1.0


def test_clustering_scores_agree_with_scikit_learn():
    rng = np.random.default_rng(1)
    y, c = rng.integers(0, 4, 300), rng.integers(0, 5, 300)
    s = pp.clustering_scores(y, c)
    assert s["nmi"] == pytest.approx(normalized_mutual_info_score(y, c))
    assert s["ari"] == pytest.approx(adjusted_rand_score(y, c))


def test_the_loop_trains_relabels_every_epoch_and_is_cached_by_fit(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    from repro_lib.data import Tensors

    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    y = torch.arange(64) % 4
    data = dr.ClusterData("cifar10", Tensors((x, y), "test:random64"), x[:16], y[:16], 4, "random")
    s = Settings({**PROFILES["smoke"], "cl_batch_size": 32, "cl_epochs": 2})
    first = dr.train_clustering(data, s, "dds10", 0)
    assert not first.from_cache and len(first.history["epoch_nmi"]) == 3  # before training + 2 epochs
    assert len(first.history["loss"]) == 4 and first.history["lr"][0] > 0
    again = dr.train_clustering(data, s, "dds10", 0)
    assert again.from_cache
    a = dr.score_model(first.model, x, y, 4)
    assert a == dr.score_model(again.model, x, y, 4)


# ----------------------------------------------------------------------------- the document's tables


def _table_rows(prefixes, n_values):
    """Lines of the document that start with one of `prefixes` and hold n_values numbers."""
    out = {}
    for line in DOCUMENT.read_text().splitlines():
        cells = line.split("\t")
        if len(cells) == n_values + 1:
            for prefix, key in prefixes.items():
                if cells[0].startswith(prefix) and key not in out:
                    values = [None if v.strip() == "-" else float(re.sub(r"<[^>]+>", "", v)) for v in cells[1:]]
                    out[key] = values
    return out


@needs_document
def test_table1_is_transcribed_from_the_text():
    prefixes = {"SCAN": "SCAN", "NMM": "NMM", "CC (": "CC", "GCC": "GCC", "TCL": "TCL", "TCC": "TCC",
                "SimSiam": "SimSiam", "BYOL": "BYOL", "IDFD": "IDFD", "PCL": "PCL", "ProPos": "ProPos",
                "DDS(10%)+ProPos": "DDS(10%)+ProPos", "DDS(25%)+ProPos": "DDS(25%)+ProPos"}
    rows = _table_rows(prefixes, 12)
    assert set(rows) == set(dr.PAPER_TABLE1)
    for method, values in rows.items():
        for i, name in enumerate(dr.TABLE1_DATASETS):
            chunk = values[3 * i:3 * i + 3]
            expected = dr.PAPER_TABLE1[method][name]
            assert (None if chunk[0] is None else tuple(chunk)) == expected, (method, name)


@needs_document
def test_table2_is_transcribed_from_the_text():
    prefixes = {"CC (": "CC", "GCC": "GCC", "PCL": "PCL", "SimSiam": "SimSiam", "BYOL": "BYOL",
                "ProPos": "ProPos", "DDS(10%) + ProPos": "DDS(10%)+ProPos",
                "DDS(25%) + ProPos (Long)": "DDS(25%)+ProPos (Long)", "DDS(25%) + ProPos\t": "DDS(25%)+ProPos"}
    rows = {}
    for line in DOCUMENT.read_text().splitlines():
        cells = line.split("\t")
        if len(cells) == 4:
            for prefix, key in prefixes.items():
                if (line + "\t").startswith(prefix) or cells[0] == prefix.rstrip("\t"):
                    rows.setdefault(key, tuple(float(re.sub(r"<[^>]+>", "", v)) for v in cells[1:]))
    assert rows == dr.PAPER_TABLE2


@needs_document
def test_the_texts_15_percent_and_80_percent_read_as_relative_gains_of_table2():
    text = " ".join(DOCUMENT.read_text().split())
    assert "by a margin greater than 15%" in text and "impressive 80% in the ARI score" in text
    gains = dr.table2_relative_gains()
    dds25 = gains.loc["DDS(25%)+ProPos"]
    # relative to ProPos, DDS(25%) gains more than 15% in all three metrics ...
    assert (dds25["relative gain"] > 0.15).all()
    assert dds25["relative gain"].round(3).tolist() == [0.160, 0.191, 0.322]
    # ... but not in points (6.5, 4.9, 4.6), and DDS(10%) not even relatively (8.1%, 5.9%, 11.9%)
    assert (dds25["gain in points"] < 15).all()
    assert (gains.loc["DDS(10%)+ProPos"]["relative gain"] < 0.15).all()
    # the Long run's ARI is 83.9% above ProPos's (the text's "80%"), 39.2% above DDS(25%)'s own
    long_ari = gains.loc[("DDS(25%)+ProPos (Long)", "ARI"), "relative gain"]
    assert long_ari == pytest.approx(26.3 / 14.3 - 1) and long_ari > 0.80
    assert 26.3 / 18.9 - 1 < 0.80


MEASURE = re.compile(r"^(cifar10|cifar20|imagenet10|imagenet_dogs|tiny_imagenet)_(dds10|dds25_long|dds25)_"
                     r"(rel_gain|minus_propos|minus_dds10)_(nmi|acc|ari)$")


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.get("derived") and MEASURE.match(c["measure"])],
                         ids=lambda c: c["id"])
def test_section41_derived_paper_numbers_recompute(claim):
    """Each Section 4.1 claim's `derived` number (points, or % for relative gains) recomputed
    from PAPER_TABLE1 / PAPER_TABLE2, and the claim names the notebook of its data set."""
    dataset, method, kind, metric = MEASURE.match(claim["measure"]).groups()
    quoted = float(re.search(r"[-+]?\d+\.\d+", claim["derived"]).group())
    if kind == "rel_gain":
        expected = 100 * dr.paper_gain(dataset, method, metric, relative=True)
    elif kind == "minus_propos":
        expected = dr.paper_gain(dataset, method, metric)
    else:
        i = dr.METRICS.index(metric)
        expected = dr.PAPER_TABLE1["DDS(25%)+ProPos"][dataset][i] - dr.PAPER_TABLE1["DDS(10%)+ProPos"][dataset][i]
    assert round(expected, 1) == quoted, (claim["id"], expected)
    assert claim["notebook"] == ("4_1_clustering" if dataset == "cifar10" else f"4_1_clustering_{dataset}")


def test_every_section41_claim_reads_a_measure_the_recipes_write():
    """Measures of the clustering claims are among those `clustering_numbers`, `health_clustering`
    and `figure5_numbers` write (checked on a fake run of every method over two seeds)."""
    import pandas as pd

    rows = [{"data set": name, "method": m, "seed": s, "split": split, "nmi": 0.5 + 0.01 * s, "acc": 0.4 + 0.02 * s,
             "ari": 0.3} for name in dr.CLUSTER_DATASETS for m in (*dr.METHODS, "dds25_long")
            for s in (0, 1) for split in ("train", "test")]
    runs = pd.DataFrame(rows)
    written = set(dr.figure5_numbers({v: [0.1, 0.2, 0.3, 0.35] for v in dr.FIG5_VARIANTS}))
    for name in dr.CLUSTER_DATASETS:
        written |= set(dr.clustering_numbers(runs, name)) | set(
            dr.health_clustering(runs, {"nmi": 0.1, "acc": 0.2, "ari": 0.05}, name))
    doc = yaml.safe_load((repo_root() / "book" / "dds" / "claims.yaml").read_text())
    section41 = [c for c in [*doc["claims"], *doc["gates"]] if c["notebook"].startswith("4_1_clustering")]
    assert len(section41) > 20
    for item in section41:
        assert item["measure"] in written, item["id"]
        if item.get("interval"):
            assert item["interval"] in written, item["id"]
