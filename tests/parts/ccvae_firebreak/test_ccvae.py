"""The CCVAE-firebreak part: regression and cell metrics, the models and their objective,
training on (layouts, labels) with two optimisers, the cached data set, GA operators."""
import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from repro_lib import train
from repro_lib.data import Tensors
from repro_lib.models import build
from repro_lib.parts.ccvae_firebreak import fire
from repro_lib.parts.ccvae_firebreak.ccvae import ContinuousCCVAELoss
from repro_lib.parts.ccvae_firebreak.regression import cell_metrics, mae, mape

SPEC = {"family": "fire_ccvae", "latent_dim": 16, "channels": 4}


def test_mae_and_mape_match_scikit_learn():
    g = np.random.default_rng(0)
    y = g.uniform(0.6, 0.8, 50)
    p = y + g.normal(0, 0.01, 50)
    assert mae(torch.tensor(p), torch.tensor(y)) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert mape(torch.tensor(p), torch.tensor(y)) == pytest.approx(skm.mean_absolute_percentage_error(y, p), rel=1e-12)
    assert mae(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0])) == 1.0            # by hand
    assert mape(torch.tensor([0.75]), torch.tensor([0.5])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="zero target"):
        mape(torch.tensor([1.0]), torch.tensor([0.0]))


def test_cell_metrics_match_scikit_learn():
    g = torch.Generator().manual_seed(0)
    t = (torch.rand(10, 20, 20, generator=g) < 0.05)
    p = t ^ (torch.rand(10, 20, 20, generator=g) < 0.02)
    ours = cell_metrics(p, t)
    a, b = t.flatten().numpy(), p.flatten().numpy()
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(a, b))
    assert ours["precision"] == pytest.approx(skm.precision_score(a, b))
    assert ours["recall"] == pytest.approx(skm.recall_score(a, b))
    # by hand: 2 true firebreaks, predicted 1 of them plus 1 wrong cell, 4 cells
    hand = cell_metrics(torch.tensor([1, 0, 1, 0]), torch.tensor([1, 1, 0, 0]))
    assert hand == {"accuracy": 0.5, "precision": 0.5, "recall": 0.5}


def test_models_shapes_and_head_on_the_last_half():
    torch.manual_seed(0)
    m = build(SPEC).eval()
    x = fire.random_layouts(5, seed=0).unsqueeze(1)
    mu, logvar, _ = m.encode(x)
    assert mu.shape == logvar.shape == (5, 16) and m.landscape.shape == (1, 3, 20, 20)
    recon = m.decode(mu)
    assert recon.shape == (5, 1, 20, 20) and ((recon > 0) & (recon < 1)).all()
    pred = m.predict(mu)
    assert pred.shape == (5,) and ((pred > 0) & (pred < 1)).all()
    z = mu.clone()
    z[:, :8] += 5.0   # changing z_\c leaves the prediction alone
    assert torch.equal(m.predict(z), pred)
    vae = build({**SPEC, "family": "fire_vae"})
    with pytest.raises(AttributeError, match="no regression head"):
        vae.predict(mu)
    full = build({"family": "fire_ccvae"})   # Table 1 sizes
    assert full.mu_head.in_features == 6400 and full.decoder[0].out_features == 6400
    assert [layer.out_features for layer in full.head if isinstance(layer, torch.nn.Linear)] == [128, 64, 1]
    assert full.head[0].in_features == 128


def test_objective_terms_by_hand_and_parameter_groups():
    torch.manual_seed(0)
    m = build(SPEC).eval()
    x, y = fire.random_layouts(4, seed=1).unsqueeze(1), torch.full((4,), 0.74)
    terms = ContinuousCCVAELoss(beta=0.1, alpha=100.0)(m, (x, y))
    recon, (mu, logvar, _), z = m(x)
    bce = -(x * recon.log() + (1 - x) * (1 - recon).log()).sum() / 4
    kl = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum() / 4
    mse = ((m.predict(z) - y) ** 2).mean()
    assert torch.allclose(terms["loss"], bce + 0.1 * kl + 100 * mse, rtol=1e-5)
    assert "mse" not in ContinuousCCVAELoss(alpha=0.0)(m, (x, y))
    groups = ContinuousCCVAELoss(alpha=1.0, head_lr=1e-4).param_groups(m, 1e-3)
    assert [g["lr"] for g in groups] == [1e-3, 1e-4]
    ids = [{id(p) for p in g["params"]} for g in groups]
    assert not ids[0] & ids[1] and ids[0] | ids[1] == {id(p) for p in m.parameters()}
    assert len(ContinuousCCVAELoss(alpha=0.0).param_groups(m, 1e-3)) == 1


def test_fit_on_layouts_and_labels_with_validation_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    x = fire.random_layouts(64, seed=2).unsqueeze(1)
    y = torch.linspace(0.7, 0.78, 64)
    data = Tensors((x, y), "unit:fire")
    obj = ContinuousCCVAELoss(beta=0.1, alpha=10.0, head_lr=1e-2)
    settings = train.TrainSettings(epochs=2, batch_size=16, lr=1e-3, seed=0)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in build(SPEC).state_dict().items()}
    first = train.fit(SPEC, obj, data.rows(None, 48), settings, progress=False, val=data.rows(48, None))
    assert not first.from_cache and len(first.history["loss"]) == 2 * 3
    assert len(first.history["val_mse"]) == 2 and len(first.history["val_recon"]) == 2
    after = first.model.state_dict()
    assert not torch.equal(after["head.0.weight"], before["head.0.weight"])      # head optimiser stepped
    assert not torch.equal(after["mu_head.weight"], before["mu_head.weight"])    # VAE optimiser stepped
    second = train.fit(SPEC, obj, data.rows(None, 48), settings, progress=False, val=data.rows(48, None))
    assert second.from_cache and second.history == first.history


def test_dataset_is_generated_once_and_matches_the_simulator(tmp_path, monkeypatch):
    from repro_lib.parts.ccvae_firebreak.firebreaks import load_firebreaks

    monkeypatch.setenv("REPRO_DATA_CACHE", str(tmp_path))
    first = load_firebreaks(30, seed=3)
    (x, y), key = first, first.data_id.removeprefix("firebreaks:")
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and key in files[0].name
    again = load_firebreaks(30, seed=3)
    assert again.data_id == first.data_id and torch.equal(x, again.x) and torch.equal(y, again.tensors[1])
    assert fire.is_valid(x[:, 0]).all()
    assert torch.allclose(y.double(), fire.Forest().simulator(device="cpu").fitness(x[:, 0]), atol=1e-6)
    assert load_firebreaks(31, seed=3).data_id != first.data_id


def test_ga_operators_keep_layouts_valid():
    from repro_lib.parts.ccvae_firebreak import recipes as cf

    g = torch.Generator().manual_seed(0)
    a, b = fire.random_layouts(10, seed=4), fire.random_layouts(10, seed=5)
    moved = cf._valid_mutation(a, 3, g)
    assert fire.is_valid(moved).all()
    changed = (moved != a).reshape(10, -1).sum(1)
    assert (changed <= 6).all() and (changed > 0).all()

    class S:
        ga_mutation_moves = 0
    kids = cf._vanilla_children(a, b, S, g)
    assert fire.is_valid(kids).all()
    assert ((kids * ((a + b) > 0)).reshape(10, -1).sum(1) == 20).all()   # cells come from the parents


def test_the_model_reads_the_landscape_of_its_data():
    from repro_lib.data import DataError
    from repro_lib.parts.ccvae_firebreak import cell2fire
    from repro_lib.parts.ccvae_firebreak.ccvae import FireVAE

    with pytest.raises(ValueError, match="unknown landscape 'moon'"):
        FireVAE(latent_dim=8, channels=2, landscape="moon")
    try:
        land = cell2fire.landscape(cell2fire.instance())
    except DataError as err:
        pytest.skip(f"the authors' data are not here: {str(err)[:80]}")
    m = build({"family": "fire_ccvae", "latent_dim": 8, "channels": 2, "landscape": "cell2fire"})
    assert torch.equal(m.landscape[0], torch.from_numpy(land.channels()))
    elev = land.elevation
    assert torch.allclose(m.landscape[0, 0], torch.from_numpy((elev - elev.min()) / np.ptp(elev)).float())
