"""World Models vision: parameter counts, the free bits of Eq. 7, the perceptual loss of Eq. 8,
the two training stages through fit (stage 1 frozen in stage 2)."""
import pytest
import torch

from repro_lib.data import Tensors
from repro_lib.models.vae import gaussian_kl_per_dim
from repro_lib.parts.dds.networks import parameter_count
from repro_lib.parts.dds.world_models import training as T
from repro_lib.parts.dds.world_models.vision import (
    BASELINE_PARAMETERS,
    HVAE,
    DDSStage1,
    DDSVision,
    PerceptualFreeBits,
    WorldModelsVAE,
    free_bits_kl,
    m_of,
    perceptual_loss,
    vision_parts,
)
from repro_lib.train import TrainSettings

TINY = dict(selector_channels=2, width=4, h_channels=2, unet_channels=2, vae_width=4)


def test_baseline_vae_has_exactly_the_documents_parameter_count():
    model = WorldModelsVAE(32)
    assert parameter_count(model) == 4_348_547 == BASELINE_PARAMETERS
    # ctallec's VAE(3, 32), layer by layer: convs 1,568 + 32,832 + 131,200 + 524,544, heads 2 x 32,800,
    # fc 33,792, deconvs 3,276,928 + 204,864 + 73,760 + 3,459
    sizes = [p.numel() for p in model.parameters()]
    assert sum(sizes[:8]) == 1568 + 32832 + 131200 + 524544
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = WorldModelsVAE().eval()(x)
    assert out.recon.shape == x.shape and out.z.shape == (2, 32)
    assert float(out.recon.min()) >= 0 and float(out.recon.max()) <= 1


def test_dds_vision_default_architecture_count_and_budget():
    parts = vision_parts(DDSVision())
    assert parts == {"selector g": 483_441, "f_down": 43_632, "f_up": 50_115, "f_unet": 483_475,
                     "VAE on h": 3_148_304, "total": 4_208_967}
    assert parts["total"] <= BASELINE_PARAMETERS
    assert parameter_count(DDSVision()) == parts["total"]
    # M does not change the count (it only sets how many positions are kept)
    assert parameter_count(DDSVision(m_percent=32)) == parts["total"]


def test_dds_vision_shapes_and_m():
    model = DDSVision(m_percent=4.0, **TINY).eval()
    x = torch.rand(3, 3, 64, 64)
    assert model.stage1.m == m_of(4.0) == 164  # round(0.04 * 4096)
    assert model.stage1.h(x).shape == (3, 2, 16, 16)
    out = model(x)
    assert out.recon.shape == x.shape and out.z.shape == (3, 32)
    kept = model.stage1.select(x).mask.sum(1)
    assert kept.tolist() == [164, 164, 164]
    with pytest.raises(ValueError, match="m_percent"):
        m_of(0)


def test_free_bits_per_dim_and_total_against_the_formula():
    torch.manual_seed(0)
    mu, logvar = torch.randn(16, 8) * 0.3, torch.randn(16, 8) * 0.2
    per_dim = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).mean(0)  # KL_j averaged over the batch
    lam = float(per_dim.median())
    assert torch.allclose(gaussian_kl_per_dim(mu, logvar), per_dim)
    floored = float(torch.clamp(per_dim, min=lam).sum())
    assert free_bits_kl(mu, logvar, lam, "per_dim") == pytest.approx(floored, rel=1e-6)
    assert free_bits_kl(mu, logvar, 1e6, "total") == pytest.approx(1e6)
    assert free_bits_kl(mu, logvar, 0.0, "total") == pytest.approx(float(per_dim.sum()), rel=1e-6)
    with pytest.raises(ValueError, match="scope"):
        free_bits_kl(mu, logvar, 0.02, "per_unit")


@pytest.mark.parametrize("scope", ["per_dim", "total"])
def test_free_bits_has_zero_gradient_below_lambda(scope):
    mu = torch.full((4, 3), 0.01, requires_grad=True)
    logvar = torch.zeros(4, 3, requires_grad=True)  # KL per unit = 0.5 * 0.01^2 = 5e-5 < 0.02
    free_bits_kl(mu, logvar, 0.02, scope).backward()
    assert torch.count_nonzero(mu.grad) == 0 and torch.count_nonzero(logvar.grad) == 0
    # above lambda the gradient is the KL's
    mu2 = torch.full((4, 3), 1.0, requires_grad=True)
    free_bits_kl(mu2, torch.zeros(4, 3), 0.02, scope).backward()
    assert torch.allclose(mu2.grad, torch.full((4, 3), 1.0 / 4))  # d/dmu of mean_b 0.5 mu^2


def test_perceptual_loss_is_zero_for_equal_h_and_matches_hand_computation():
    stage1 = DDSStage1(4.0, **{k: v for k, v in TINY.items() if k != "vae_width"}).eval().requires_grad_(False)
    h = torch.randn(2, 2, 16, 16)
    layers = stage1.downstream.up_layers(h)
    assert len(layers) == 3 and layers[-1].shape == (2, 3, 64, 64)
    assert float(perceptual_loss(stage1.downstream.up_layers(h.clone()), layers)) == 0.0
    a = [torch.zeros(2, 3), torch.zeros(2, 5)]
    b = [torch.ones(2, 3), 2 * torch.ones(2, 5)]
    # layer 1: squared norm 3 per sample; layer 2: 4 * 5 = 20 per sample; mean over the 2 layers
    assert float(perceptual_loss(a, b)) == pytest.approx((3 + 20) / 2)
    assert float(perceptual_loss(stage1.downstream.up_layers(h + 0.1), layers)) > 0


def test_two_stages_through_fit_cache_and_freeze(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path / "models"))
    torch.manual_seed(0)
    images = Tensors((torch.rand(16, 3, 64, 64),), "test:random-frames")
    settings = TrainSettings(epochs=1, batch_size=8)
    s1 = T.train_dds_stage1(images, 4.0, TINY, settings)
    before = {k: v.clone() for k, v in s1.model.state_dict().items()}
    s2 = T.train_dds_stage2(images, s1, TINY, settings)
    assert set(s2.history) == {"loss", "perceptual", "kl"}
    after = s1.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # stage 1 frozen
    assert not any(p.requires_grad for p in s1.model.parameters())
    again = T.train_dds_stage2(images, s1, TINY, settings)
    assert again.from_cache and again.key == s2.key
    vision = T.dds_trained_vision(s1, s2, 4.0, TINY)
    assert isinstance(vision.model.vae, HVAE)
    rebuilt = DDSVision(**{"m_percent": 4.0, **TINY})
    rebuilt.load_state_dict(vision.model.state_dict())  # a worker rebuilds it from spec + state
    mse = T.reconstruction_mse(vision.model, images.x)
    assert 0 < mse < 1


def test_stage2_objective_names_its_stage1_and_needs_it():
    with pytest.raises(ValueError, match="stage-1"):
        PerceptualFreeBits("abc")
    objective = PerceptualFreeBits("abc", stage1=DDSStage1(4.0, **{k: v for k, v in TINY.items() if k != "vae_width"}))
    assert objective.describe() == {"objective": "PerceptualFreeBits", "stage1": "abc", "alpha": 1.0,
                                    "lambda": 0.02, "scope": "per_dim"}


def test_batchnorm_recalibration_uses_the_eval_mode_inputs():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    model = torch.nn.Sequential(conv, torch.nn.BatchNorm2d(4))
    images = torch.rand(12, 3, 8, 8)
    T.recalibrate_batchnorm(model, images, batch=12)
    with torch.no_grad():
        features = conv(images).transpose(0, 1).flatten(1)
    bn = model[1]
    assert torch.allclose(bn.running_mean, features.mean(1), atol=1e-6)
    assert torch.allclose(bn.running_var, features.var(1, unbiased=True), atol=1e-5)
    assert bn.momentum == 0.1 and not model.training
    # on DDS, the selection stays in eval mode (exactly M positions) while the statistics are taken
    stage1 = DDSStage1(4.0, **{k: v for k, v in TINY.items() if k != "vae_width"})
    seen = []
    stage1.downstream.f_down.register_forward_hook(lambda m, i, o: seen.append((i[0] != 0).flatten(2).any(1).sum(1)))
    T.recalibrate_batchnorm(stage1, torch.rand(5, 3, 64, 64), batch=5)
    assert seen[0].tolist() == [164] * 5
