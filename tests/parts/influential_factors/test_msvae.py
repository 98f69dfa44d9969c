"""The thesis's tabular VAE (Listings C.1-C.2), the 64x64 face VAE and the two-stage MSVAE."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from repro_lib import train
from repro_lib.data import Tensors
from repro_lib.models import FAMILIES, build
from repro_lib.models.vae import reconstructions
from repro_lib.objectives import BetaTCVAE
from repro_lib.parts.influential_factors.faces import FaceDecoder, FaceEncoder
from repro_lib.parts.influential_factors.msvae import (
    MIXUP_MODES,
    MSVAE,
    FaceMSVAE,
    MSVAEStage2ELBO,
    TabularMSVAE,
    mixup_inputs,
)
from repro_lib.parts.influential_factors.tabular import TabularDecoder, TabularEncoder, TabularVAE


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tiny models run fastest on one thread, much faster when the CPU is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _layers(module: nn.Module) -> list:
    """(type name, in, out) of each Linear and the type name of every other layer, in order."""
    out = []
    for m in module.main:
        out.append(("Linear", m.in_features, m.out_features) if isinstance(m, nn.Linear)
                   else type(m).__name__)
    return out


def test_tabular_layers_match_listings():
    act = "LeakyReLU"
    assert _layers(TabularEncoder(latent_dim=5, input_dim=23)) == [
        ("Linear", 23, 512), act, ("Linear", 512, 256), act, ("Linear", 256, 128), act,
        ("Linear", 128, 64), act, ("Linear", 64, 10)]
    assert _layers(TabularDecoder(latent_dim=5, input_dim=23)) == [
        ("Linear", 5, 64), act, ("Linear", 64, 128), act, ("Linear", 128, 256), act,
        ("Linear", 256, 512), act, ("Linear", 512, 23), act, "Sigmoid"]
    slopes = {m.negative_slope for m in TabularDecoder(5, 23).main if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.01}


def test_tabular_logvar_is_clipped_and_modes():
    torch.manual_seed(0)
    model = build({"family": "tabular_vae", "input_dim": 23, "latent_dim": 5})
    assert isinstance(model, TabularVAE)
    head = model.encoder.main[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([100.0, -100, 0, 0, 0, 100, -100, 5, 0, 0]))
    x = torch.rand(4, 23)
    mu, logvar, _ = model.encode(x)
    assert mu[0].tolist() == [100.0, -100, 0, 0, 0]  # mu is not clipped
    assert logvar[0].tolist() == [20.0, -20.0, 5.0, 0.0, 0.0]
    torch.manual_seed(1)
    recon, (mu, logvar, _), z = model(x)
    assert recon.shape == (4, 23) and mu.shape == logvar.shape == z.shape == (4, 5)
    assert 0 <= recon.min() and recon.max() <= 1 and not torch.equal(z, mu)
    model.eval()
    recon_eval, (mu_eval, _, _), z_eval = model(x)
    assert torch.equal(z_eval, mu_eval) and torch.equal(model.encode_mean(x), mu_eval)
    assert torch.equal(recon_eval, model.decode(mu_eval))


def test_face_vae_shapes():
    encoder = FaceEncoder(latent_dim=6)
    convs = [(m.in_channels, m.out_channels) for m in encoder.main if isinstance(m, nn.Conv2d)]
    assert convs == [(3, 32), (32, 32), (32, 64), (64, 128), (128, 256), (256, 256)]
    model = build({"family": "face_vae", "latent_dim": 6})
    recon, (mu, logvar, _), z = model(torch.rand(2, 3, 64, 64))
    assert recon.shape == (2, 3, 64, 64) and mu.shape == logvar.shape == z.shape == (2, 6)
    assert FaceDecoder(6, channels=1)(torch.randn(2, 6)).shape == (2, 1, 64, 64)
    with pytest.raises(ValueError, match="64x64"):
        model(torch.rand(2, 3, 32, 32))


def test_stage1_beta_tcvae_runs_on_the_table():
    torch.manual_seed(0)
    terms = BetaTCVAE(n_data=30000, beta=6.0)(TabularVAE(23, 3), torch.rand(16, 23))
    assert all(torch.isfinite(v) for v in terms.values())


@pytest.mark.parametrize("spec, shape", [
    ({"family": "msvae_tabular", "input_dim": 23, "latent_dim": 4}, (5, 23)),
    ({"family": "msvae_faces", "latent_dim": 4, "width": 8}, (2, 3, 64, 64)),
])
def test_stage2_shapes(spec, shape):
    torch.manual_seed(0)
    model = build(spec)
    assert isinstance(model, (TabularMSVAE, FaceMSVAE)) and spec["family"] in FAMILIES
    x, y = torch.rand(shape), torch.rand(shape)
    recon, (mu, logvar, _), z = model((x, y))
    assert recon.shape == shape and mu.shape == logvar.shape == z.shape == (shape[0], 4)
    assert torch.equal(mu, model.encode_mean(x - y))  # the encoder reads the residual
    model.eval()
    recon, (mu, _, _), z = model((x, y))
    assert torch.equal(z, mu) and torch.equal(recon, model.decode(y, mu))
    terms = MSVAEStage2ELBO(beta=2.0)(model, (x, y))
    assert torch.allclose(terms["loss"], terms["recon"] + 2.0 * terms["kl"])
    assert MSVAEStage2ELBO(beta=2.0).describe() == {"objective": "MSVAEStage2ELBO", "beta": 2.0}


@pytest.mark.parametrize("stage1, stage2, shape", [
    (lambda: TabularVAE(23, 3), lambda: TabularMSVAE(23, 4), (6, 23)),
    (lambda: build({"family": "face_vae", "latent_dim": 3}),
     lambda: FaceMSVAE(4, width=8), (3, 3, 64, 64)),
])
def test_mixups(stage1, stage2, shape):
    torch.manual_seed(0)
    s1, s2 = stage1(), stage2()
    msvae = MSVAE(s1, s2)
    x_i, x_j = torch.rand(shape), torch.rand(shape)
    for mode in MIXUP_MODES:
        assert msvae.mixup(x_i, x_j, mode).shape == shape
    # Mixing an example with itself is the ordinary MSVAE reconstruction.
    own = msvae.reconstruct(x_i)
    assert s1.training and s2.training  # modes restored
    y_i = reconstructions(s1, x_i, batch_size=2)
    s2.eval()
    assert torch.allclose(own, s2((x_i, y_i))[0], atol=1e-6)
    assert torch.allclose(msvae.mixup(x_i, x_i, "xj-yi"), own, atol=1e-6)
    assert not torch.allclose(msvae.mixup(x_i, x_i, "xj"), own)
    assert not torch.allclose(msvae.mixup(x_i, x_j, "xj-yj"), own)


def test_mixup_inputs_and_errors():
    x_i, y_i, x_j, y_j = (torch.full((2, 3), float(v)) for v in (1, 2, 10, 30))
    inputs = [mixup_inputs(x_i, y_i, x_j, y_j, m)[1][0, 0].item() for m in MIXUP_MODES]
    assert inputs == [-20, 10, 8]
    assert all(mixup_inputs(x_i, y_i, x_j, y_j, m)[0] is y_i for m in MIXUP_MODES)
    with pytest.raises(ValueError, match="mode must be one of"):
        mixup_inputs(x_i, y_i, x_j, y_j, "xi")
    with pytest.raises(ValueError, match="differ in shape"):
        mixup_inputs(x_i, y_i, x_j[:1], y_j[:1], "xj")


def test_reconstructions_batches_in_eval_mode():
    torch.manual_seed(0)
    model, x = TabularVAE(23, 3), torch.rand(7, 23)
    y = reconstructions(model, x, batch_size=3)
    assert model.training and not y.requires_grad
    model.eval()
    assert torch.allclose(y, model(x)[0], atol=1e-6)


def test_stage2_training_reduces_loss(tmp_path, monkeypatch):
    """Stage 2 through `train.fit` on tuple data (x, y): the loss falls on a tiny batch."""
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    torch.manual_seed(0)
    x = torch.sigmoid(4 * torch.rand(32, 3) @ torch.randn(3, 23))  # rows with 3 factors
    y = reconstructions(TabularVAE(23, 3), x)
    spec = {"family": "msvae_tabular", "input_dim": 23, "latent_dim": 3}
    settings = train.TrainSettings(epochs=30, batch_size=16, lr=3e-3, seed=0)
    result = train.fit(spec, MSVAEStage2ELBO(), Tensors((x, y), "unit:tiny-table"), settings, progress=False)
    loss = result.history["loss"]
    assert len(loss) == 60 and sum(loss[-5:]) / 5 < 0.9 * sum(loss[:5]) / 5
    again = train.fit(spec, MSVAEStage2ELBO(), Tensors((x, y), "unit:tiny-table"), settings, progress=False)
    assert again.from_cache and again.history == result.history
