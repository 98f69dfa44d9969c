"""Dreams and the feature networks behind Table 4's Frechet distances (proxies named)."""
import pytest
import torch

from repro_lib.parts.dds.world_models import features as Fe
from repro_lib.parts.dds.world_models.dreams import dream
from repro_lib.parts.dds.world_models.mdn_rnn import MDNRNN
from repro_lib.parts.dds.world_models.vision import WorldModelsVAE


def test_dream_starts_from_the_encoded_frame_and_follows_the_actions():
    torch.manual_seed(0)
    vision, mdn = WorldModelsVAE().eval(), MDNRNN(hidden=16).eval()
    x0, actions = torch.rand(3, 64, 64), torch.rand(5, 3)
    out = dream(vision, mdn, x0, actions, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert out["frames"].shape == (6, 3, 64, 64) and out["z"].shape == (6, 32)
    with torch.no_grad():
        assert torch.allclose(out["frames"][0], vision.decode(vision.encode(x0[None]).mu)[0])
    same = dream(vision, mdn, x0, actions, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(same["z"], out["z"])  # seeded
    cold = [dream(vision, mdn, x0, actions, temperature=0.0)["z"] for _ in range(2)]
    assert torch.equal(cold[0], cold[1])  # tau = 0 is deterministic
    batched = dream(vision, mdn, x0[None].repeat(2, 1, 1, 1), actions[None].repeat(2, 1, 1), temperature=0.0)
    assert batched["frames"].shape == (2, 6, 3, 64, 64) and torch.allclose(batched["z"][1], cold[0], atol=1e-5)
    with pytest.raises(ValueError, match="actions"):
        dream(vision, mdn, x0, actions[None].repeat(2, 1, 1))


def test_a_proxy_is_never_called_fid_or_fvd():
    net = Fe.random_conv_network(0)
    assert Fe.metric_name(net, video=False) == "Frechet distance on frames (proxy: random conv net, seed 0)"
    assert "FVD" not in Fe.metric_name(net, video=True) and "FID" not in Fe.metric_name(net, video=False)
    assert Fe.metric_name(Fe.FeatureNetwork(lambda x: x, "Inception-v3 from pt_inception.pt", "inception"),
                          video=False) == "FID"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_standard_networks_need_a_weights_file(tmp_path, monkeypatch):
    monkeypatch.delenv("REPRO_INCEPTION_TORCHSCRIPT", raising=False)
    with pytest.raises(FileNotFoundError, match="REPRO_INCEPTION_TORCHSCRIPT"):
        Fe.torchscript_network(None, "inception")
    with pytest.raises(FileNotFoundError, match="does not download"):
        Fe.torchscript_network(tmp_path / "absent.pt", "i3d")
    # a TorchScript file is loaded and its features flattened (a stand-in network here)
    script = torch.jit.script(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1)))
    path = tmp_path / "inception.pt"
    script.save(str(path))
    net = Fe.torchscript_network(path, "inception")
    assert net.features(torch.rand(2, 3, 64, 64)).shape == (2, 3) and net.standard == "inception"


def test_random_features_are_fixed_and_distances_behave():
    torch.manual_seed(123)
    a, b = Fe.random_conv_network(0), Fe.random_conv_network(0)
    x = torch.rand(40, 3, 64, 64)
    assert torch.equal(a.features(x), b.features(x))
    assert float(a.features(x).std()) > 1e-2  # features of order one, not vanishing
    assert Fe.frame_distance(x, x, a)["value"] == pytest.approx(0.0, abs=1e-6)
    far = Fe.frame_distance(x, 0.5 * x, a)["value"]
    assert far > Fe.frame_distance(x, x.flip(0), a)["value"]
    sequences = torch.rand(3, 33, 3, 64, 64)
    assert Fe.clip_features(sequences, a, 16).shape == (6, 128)
    d = Fe.clip_distance(sequences, sequences, a, 8)
    assert d["metric"].startswith("Frechet distance on clips (proxy") and d["value"] == pytest.approx(0.0, abs=1e-6)


def test_real_windows_stay_inside_episodes_and_dreams_start_from_them():
    from repro_lib.parts.dds.world_models.dreams import dream_windows, real_windows
    from repro_lib.parts.dds.world_models.rollouts import Rollouts

    lengths = torch.tensor([6, 4])
    frames = torch.arange(10).view(10, 1, 1, 1).expand(10, 64, 64, 3).to(torch.uint8)  # frame i is all i
    actions = torch.arange(10).float().view(10, 1).expand(10, 3)
    rollouts = Rollouts(frames, actions, torch.zeros(10), torch.zeros(10, dtype=torch.bool), lengths,
                        torch.tensor([0, 1]), "test:windows")
    w = real_windows(rollouts, length=3, n=4, seed=0)  # windows: episode 0 starts 0-2, episode 1 start 0
    assert w["frames"].shape == (4, 4, 3, 64, 64) and w["actions"].shape == (4, 3, 3)
    for i in range(4):
        first = int(round(float(w["frames"][i, 0, 0, 0, 0]) * 255))
        assert [round(float(f[0, 0, 0]) * 255) for f in w["frames"][i]] == list(range(first, first + 4))
        assert w["actions"][i, :, 0].tolist() == [float(first + k) for k in range(3)]
        assert first + 3 < 6 or first >= 6  # never across the episode boundary (rows 5 -> 6)
    with pytest.raises(ValueError, match="windows"):
        real_windows(rollouts, length=3, n=5)
    torch.manual_seed(0)
    vision, mdn = WorldModelsVAE().eval(), MDNRNN(hidden=16).eval()
    dreams = dream_windows(vision, mdn, w, temperature=1.0, seed=1)
    assert dreams.shape == w["frames"].shape
    with torch.no_grad():
        assert torch.allclose(dreams[:, 0], vision.decode(vision.encode(w["frames"][:, 0]).mu), atol=1e-6)


def test_distance_table_names_its_proxy_and_has_a_reference_row():
    net = Fe.random_conv_network(0)
    torch.manual_seed(0)
    real, other, bad = torch.rand(4, 16, 3, 64, 64), torch.rand(4, 16, 3, 64, 64), torch.zeros(4, 16, 3, 64, 64)
    table = Fe.distance_table(real, {"model": bad}, net, clip=8, reference=other)
    assert list(table.index) == ["real (other sequences)", "model"]
    assert all("proxy: random conv net, seed 0" in c for c in table.columns)
    assert not any(c in ("FID", "FVD") for c in table.columns)
    assert (table.loc["model"] > table.loc["real (other sequences)"]).all()
