"""The training loop and the model cache."""
from dataclasses import dataclass

import pytest
import torch

from repro_lib import cache, train
from repro_lib.data import Tensors
from repro_lib.objectives import BetaVAE

SPEC = {"family": "burgess_vae", "latent_dim": 2}


@pytest.fixture()
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    return tmp_path


def _data(n=64, name="unit-data"):
    return Tensors((torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(0)),), name)


def test_second_fit_loads_and_trains_nothing(tmp_cache):
    settings = train.TrainSettings(epochs=1, batch_size=16, seed=3)
    before = train.TRAINED_COUNT
    first = train.fit(SPEC, BetaVAE(), _data(), settings, progress=False)
    assert not first.from_cache and train.TRAINED_COUNT == before + 1
    files = {p: p.stat().st_mtime_ns for p in tmp_cache.iterdir()}
    second = train.fit(SPEC, BetaVAE(), _data(), settings, progress=False)
    assert second.from_cache and train.TRAINED_COUNT == before + 1
    assert {p: p.stat().st_mtime_ns for p in tmp_cache.iterdir()} == files
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    assert second.history == first.history


def test_key_changes_with_any_ingredient(tmp_cache):
    settings = train.TrainSettings(epochs=1, batch_size=16, seed=3)
    a = train.fit(SPEC, BetaVAE(), _data(), settings, progress=False).key
    b = train.fit(SPEC, BetaVAE(2.0), _data(), settings, progress=False).key
    c = train.fit(SPEC, BetaVAE(), _data(name="other-data"), settings, progress=False).key
    d = train.fit(SPEC, BetaVAE(), _data(),
                  train.TrainSettings(epochs=1, batch_size=16, seed=4), progress=False).key
    assert len({a, b, c, d}) == 4


def test_changed_layers_under_the_same_spec_miss_the_cache(tmp_cache, monkeypatch):
    """Editing a network (here: a wider dense layer) must not load the old weights."""
    from repro_lib import models
    from repro_lib.models.burgess import BurgessVAE

    settings = train.TrainSettings(epochs=1, batch_size=16, seed=3)
    old = train.fit(SPEC, BetaVAE(), _data(), settings, progress=False)

    class Wider(BurgessVAE):
        def __init__(self, latent_dim=3, channels=1):
            super().__init__(latent_dim, channels)
            self.encoder.mu_head = torch.nn.Linear(256, latent_dim, bias=False)

    monkeypatch.setitem(models.FAMILIES, "burgess_vae", Wider)
    new = train.fit(SPEC, BetaVAE(), _data(), settings, progress=False)
    assert new.key != old.key and not new.from_cache


def test_cpu_training_is_repeatable(tmp_path, monkeypatch):
    settings = train.TrainSettings(epochs=1, batch_size=16, seed=5)
    models = []
    for folder in ("a", "b"):
        monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path / folder))
        models.append(train.fit(SPEC, BetaVAE(), _data(), settings, progress=False))
    assert not models[1].from_cache
    for a, b in zip(models[0].model.state_dict().values(), models[1].model.state_dict().values()):
        assert torch.equal(a, b)


def test_nan_loss_stops_with_step_and_terms(tmp_cache):
    def exploding(model, x):
        loss = model(x)[0].mean() * float("nan")
        return {"loss": loss, "recon": loss.detach(), "kl": torch.tensor(0.5)}
    exploding.describe = lambda: {"objective": "exploding"}
    with pytest.raises(FloatingPointError, match=r"step 0 .*recon=nan.*kl=0.5"):
        train.fit(SPEC, exploding, _data(),
                  train.TrainSettings(epochs=1, batch_size=16), progress=False)
    assert list(tmp_cache.iterdir()) == []


def test_corrupt_cache_entry_is_reported(tmp_cache):
    (tmp_cache / "deadbeef.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="delete it to retrain"):
        cache.load("deadbeef")


def test_fit_takes_data_with_its_identity(tmp_cache):
    settings = train.TrainSettings(epochs=1, batch_size=16, seed=3)
    with pytest.raises(TypeError, match="Tensors"):
        train.fit(SPEC, BetaVAE(), _data().x, settings, progress=False)


def test_tensors_name_their_rows_and_derivations():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    data = Tensors((x, y), "toy:abc")
    assert [t.tolist() for t in data.rows(2, 4)] == [[[2.0], [3.0]], [2, 3]]
    assert data.rows(2, 4).data_id == "toy:abc[2:4]" and data.rows(None, -3).data_id == "toy:abc[:-3]"
    assert data.select(0).data_id == "toy:abc{0}" and data.select(0, 1).data_id == "toy:abc"
    assert data.derive("doubled", 2 * x).data_id == "toy:abc+doubled"
    images, labels = data  # unpacks like a tuple
    assert images is x and labels is y and len(data) == 10 and data.batch_form == (x, y)
    with pytest.raises(ValueError, match="differ in length"):
        Tensors((x, y[:3]), "bad")
    with pytest.raises(ValueError, match="data_id"):
        Tensors((x,), "")


@dataclass(frozen=True)
class SignSteps:
    """Settings of a toy loop: `steps` sign-gradient steps of size `size`."""

    steps: int
    size: float
    seed: int = 0


def sign_descent(model, objective, x, settings, desc, progress, val=None):
    """A training loop that is not Adam over minibatches: full-batch sign-gradient descent."""
    history = {"loss": []}
    for _ in range(settings.steps):
        loss = objective(model, x)["loss"]
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= settings.size * p.grad.sign()
        history["loss"].append(float(loss.detach()))
    return history


def test_fit_runs_and_caches_another_training_loop(tmp_cache):
    data, settings = _data(16), SignSteps(steps=3, size=1e-3)
    first = train.fit(SPEC, BetaVAE(), data, settings, loop=sign_descent, progress=False)
    assert not first.from_cache and len(first.history["loss"]) == 3
    again = train.fit(SPEC, BetaVAE(), data, settings, loop=sign_descent, progress=False)
    assert again.from_cache and again.key == first.key and again.history == first.history
    adam = train.fit(SPEC, BetaVAE(), data, train.TrainSettings(epochs=1, batch_size=16), progress=False)
    assert adam.key != first.key
