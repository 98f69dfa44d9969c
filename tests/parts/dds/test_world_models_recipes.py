"""The World Models chapter recipes on hand-made rollouts (no environment), and Table 3 as
transcribed from document 000's text."""
import re
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from repro_lib.data import Tensors  # noqa: E402
from repro_lib.parts.dds import PROFILES  # noqa: E402
from repro_lib.parts.dds.world_models import recipes as wr  # noqa: E402
from repro_lib.parts.dds.world_models import training as T  # noqa: E402
from repro_lib.paths import seeds_dir  # noqa: E402
from repro_lib.profiles import Settings  # noqa: E402

DOCUMENT = (seeds_dir() or Path("/nonexistent")) / "000_dae057af8475774f.txt"
SMOKE = Settings(PROFILES["smoke"])


@pytest.mark.skipif(not DOCUMENT.exists(), reason="the seeds folder is not beside the repository")
def test_table3_is_transcribed_from_the_text():
    text = DOCUMENT.read_text()
    dds = re.search(r"Proposed \(DDS \+ VAE\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    vae = re.search(r"Baseline \(VAE\)[\s-]+(0\.\d+)", text)
    assert tuple(float(v) for v in dds.groups()) == tuple(wr.PAPER_TABLE3["DDS+VAE"][m] for m in (2, 4, 8, 16, 32))
    assert float(vae.group(1)) == wr.PAPER_TABLE3["VAE"][100]
    assert "4,348,547" in text and "4,039,089" in text
    assert wr.paper_table3().loc["DDS+VAE", 4] == 0.00039


def test_parameter_table_and_breakdown():
    table = wr.parameter_table(SMOKE)
    assert table.loc["V: VAE (Ha & Schmidhuber)"].tolist() == [4_348_547, 4_348_547]
    assert table.loc["V: DDS+VAE, default layers", "ours"] == 4_208_967
    assert table.loc["C: linear controller"].tolist() == [867, 867]
    assert table.loc["M: MDN-RNN (LSTM 256, 5 Gaussians)", "ours"] == 383_557
    breakdown = wr.dds_breakdown(SMOKE)
    assert breakdown.loc["total", "default layers"] == 4_208_967
    assert breakdown.loc["total", "this profile"] == table.loc["V: DDS+VAE, this profile's layers", "ours"]


def test_summary_figures_and_numbers(tmp_path, monkeypatch, hand_made_rollouts):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    data = wr.WMData(hand_made_rollouts((20, 12), 0, "train"), hand_made_rollouts((8,), 5, "test"))
    summary = wr.rollout_summary(data.train)
    assert summary["steps"].tolist() == [20, 12] and summary["return"].tolist() == [20.0, 12.0]
    assert summary["ended"].all()
    wr.rollout_figure(data.train, episodes=2, frames=4)
    models = wr.train_vision_models(data, SMOKE)
    assert list(models) == ["VAE", "DDS+VAE M=4%", "DDS+VAE M=16%"]
    test = data.test.images().x
    table = wr.reconstruction_table(models, test)
    dds = models["DDS+VAE M=4%"].model
    assert table.loc["DDS+VAE M=4%", "MSE (z = mu)"] == pytest.approx(T.reconstruction_mse(dds, test))
    assert table["stage 1 MSE (h passed through)"].isna().tolist() == [True, False, False]
    # frozen stage-1 weights count: the trained model has its architecture's parameters
    assert table.loc["DDS+VAE M=4%", "parameters"] == wr.dds_breakdown(SMOKE).loc["total", "this profile"]
    mean = wr.mean_frame_mse(data.train.images().x, test)
    numbers = wr.model_numbers(table, wr.parameter_table(SMOKE), mean)
    assert {"vae_mse", "dds_m4_mse", "dds_m4_stage1_mse", "params_vae", "params_controller"} <= set(numbers)
    parts = wr.intermediates(models["DDS+VAE M=4%"].model, test[:2])
    assert parts["gate x mask"].shape == (2, 1, 64, 64)
    assert int((parts["gate x mask"] > 0).sum()) <= 2 * 164  # exactly M positions kept per frame
    assert parts["DDS+VAE output"].shape == (2, 3, 64, 64)
    wr.intermediates_figure(models["DDS+VAE M=4%"].model, test, n=2)
    wr.reconstruction_figure(models, test, n=3)
    assert wr.data_numbers(data)["train_frames"] == 32


def test_encoded_sequences_are_named_by_the_vision_model(tmp_path, monkeypatch, hand_made_rollouts):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    rollouts = hand_made_rollouts((7, 5))
    result = T.train_baseline_vae(rollouts.images(), T.TrainSettings(epochs=1, batch_size=4))
    vision = T.baseline_vision(result)
    seqs = T.encode_sequences(vision, rollouts, 3)
    mu, logvar, actions = seqs.tensors
    assert mu.shape == (3, 3, 32) and actions.shape == (3, 3, 3)  # windows 0-2, 3-5 and 7-9
    assert result.key in seqs.data_id and rollouts.data_id in seqs.data_id
    with torch.no_grad():
        expected = result.model.encode(rollouts.images().x[7:10]).mu
    assert torch.allclose(mu[2], expected, atol=1e-5)
    mdn = T.train_mdn_rnn(seqs, T.TrainSettings(epochs=1, batch_size=2), hidden=8)
    assert T.mdn_spec_of(mdn)["hidden"] == 8 and isinstance(seqs, Tensors)
