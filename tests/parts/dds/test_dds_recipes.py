"""The recipes behind the DDS chapters (3_method, 4_3_ablation) on small hand-made cases, and
Table 5 as transcribed from document 000's text."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from repro_lib.parts.dds import PROFILES
from repro_lib.parts.dds import recipes as dr
from repro_lib.parts.dds.model import DDS, DDSAutoencoder
from repro_lib.paths import seeds_dir
from repro_lib.profiles import Settings

DOCUMENT = (seeds_dir() or Path("/nonexistent")) / "000_dae057af8475774f.txt"
SMOKE = Settings(PROFILES["smoke"])


@pytest.mark.skipif(not DOCUMENT.exists(), reason="the seeds folder is not beside the repository")
def test_table5_is_transcribed_from_the_text():
    lines = [line.rstrip("\t") for line in DOCUMENT.read_text().splitlines()
             if re.match(r"^(Naive AE|DDS)\b.*\t0\.\d{5}\t", line)]
    assert len(lines) == 7
    prefixes = ["Naive AE", "DDS w/o Residual", "DDS Hard Sigmoid", "DDS classic Binary Concrete",
                "DDS w/o Binary Concrete", "DDS w/o Dynamic", "DDS"]
    for line, prefix, row in zip(lines, prefixes, dr.ROWS):
        assert line.startswith(prefix), (line, prefix)
        assert tuple(float(v) for v in line.split("\t")[1:]) == dr.PAPER_TABLE5[row], row


def test_the_extractions_tensions_as_computed_from_table5():
    t = dr.tensions()
    # the hard sigmoid is worse than DDS at M = 64, 512 and 1024 and better at 128 and 256 (not "only
    # at M = 64", as the issue read it); epsilon = 0 is the lowest row at every M
    assert t["hard sigmoid worse than DDS"].to_dict() == {64: True, 128: False, 256: False, 512: True, 1024: True}
    assert set(t["lowest row"]) == {dr.ROW_LABELS["epsilon_0"]}
    assert t.loc[64, "hard sigmoid / DDS"] == pytest.approx(0.01838 / 0.01636)
    assert dr.paper_ratio("kappa_1", "dds", 64) == pytest.approx(0.03759 / 0.01636)


def test_paper_table5_columns():
    table = dr.paper_table5([64, 256])
    assert table.columns.tolist() == [64, 256] and table.loc["DDS", 256] == 0.00469
    assert table.index.tolist() == [dr.ROW_LABELS[r] for r in dr.ROWS]
    with pytest.raises(ValueError, match="no column"):
        dr.paper_table5([100])


def _runs(values: dict[str, tuple[float, float]], drops=0.01) -> pd.DataFrame:
    return pd.DataFrame([{"row": row, "M": m, "seed": 0, "test_mse": v[i], "final_drop": drops, "seconds": 1.0,
                          "steps": 100} for row, v in values.items() for i, m in enumerate((64, 256))])


def test_ablation_table_and_numbers_by_hand():
    values = {"naive_ae": (0.02, 0.010), "no_residual": (0.03, 0.012), "hard_sigmoid": (0.018, 0.004),
              "kappa_1": (0.04, 0.014), "kappa_0": (0.016, 0.0048), "epsilon_0": (0.015, 0.0038),
              "dds": (0.016, 0.0047)}
    runs = _runs(values)
    runs.loc[(runs.row == "dds") & (runs.M == 256), "final_drop"] = 0.05
    table = dr.ablation_table(runs)
    assert table.index.tolist() == [dr.ROW_LABELS[r] for r in dr.ROWS] and table.columns.tolist() == [64, 256]
    n = dr.table5_numbers(table, runs)
    assert n["mse_dds_m64"] == 0.016 and n["mse_naive_ae_m256"] == 0.010
    assert n["no_residual_over_dds_m64"] == pytest.approx(0.03 / 0.016)
    assert n["no_residual_over_dds_min"] == pytest.approx(min(0.03 / 0.016, 0.012 / 0.0047))
    assert n["naive_over_dds_m256"] == pytest.approx(0.010 / 0.0047)
    assert n["dds_m256_over_m64"] == pytest.approx(0.0047 / 0.016)
    assert n["kappa0_over_dds_m256"] == pytest.approx(0.0048 / 0.0047)
    assert n["epsilon0_best_at_every_m"] is True
    assert n["max_final_drop_dds"] == 0.05 and n["max_final_drop_naive_ae"] == 0.01
    values["hard_sigmoid"] = (0.014, 0.004)  # now the hard sigmoid wins at M = 64
    n = dr.table5_numbers(dr.ablation_table(_runs(values)), _runs(values))
    assert n["epsilon0_best_at_every_m"] is False
    assert dr.best_row_at_each_m(dr.ablation_table(_runs(values)))[64] == dr.ROW_LABELS["hard_sigmoid"]


def test_health_numbers_read_the_largest_m():
    table = dr.ablation_table(_runs({"naive_ae": (0.02, 0.01), "dds": (0.016, 0.005)}))
    assert dr.health_numbers(table, 0.05) == pytest.approx(
        {"mean_image_mse": 0.05, "largest_m": 256, "naive_ae_over_mean_image": 0.2, "dds_over_mean_image": 0.1})


def test_numbers_of_a_column_not_run_are_nan():
    runs = _runs({r: (0.01, 0.005) for r in dr.ROWS})
    runs = runs[runs.M == 64]
    n = dr.table5_numbers(dr.ablation_table(runs), runs)
    assert np.isnan(n["naive_over_dds_m256"]) and n["naive_over_dds_m64"] == pytest.approx(1.0)


def test_seeds_are_averaged():
    runs = pd.concat([_runs({"dds": (0.01, 0.004)}), _runs({"dds": (0.03, 0.006)}).assign(seed=1)])
    assert dr.ablation_table(runs).loc["DDS"].tolist() == pytest.approx([0.02, 0.005])


def test_side_by_side():
    ours = pd.DataFrame({64: [0.02]}, index=["DDS"])
    out = dr.side_by_side(ours, dr.paper_table5([64]))
    assert out.loc["DDS", (64, "document")] == 0.01636
    assert out.loc["DDS", (64, "ratio")] == pytest.approx(0.02 / 0.01636)


def test_final_drop_by_hand():
    loss = [10.0] * 80 + [1.1] * 10 + [1.0] * 10
    assert dr.final_drop({"loss": loss}) == pytest.approx(0.1)
    assert np.isnan(dr.final_drop({"loss": [1.0] * 19}))


def test_mean_image_and_reconstruction_mse_by_hand():
    train = torch.tensor([[[[0.0]]], [[[1.0]]]])  # mean image 0.5
    test = torch.tensor([[[[1.0]]], [[[0.0]]], [[[0.5]]]])
    assert dr.mean_image_mse(train, test) == pytest.approx((0.25 + 0.25 + 0) / 3)

    class Half(nn.Module):
        def forward(self, x):
            return x / 2

    x = torch.rand(7, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert dr.reconstruction_mse(Half(), x, batch=3) == pytest.approx(float(((x / 2) ** 2).mean()), rel=1e-6)


def test_model_specs_and_objective():
    assert dr.model_spec("naive_ae", 64, SMOKE) == {"family": "naive_ae", "latent": 64, "width": SMOKE.ae_width}
    spec = dr.model_spec("hard_sigmoid", 256, SMOKE)
    assert spec["family"] == "dds_autoencoder" and (spec["zeta"], spec["gamma"]) == (1.1, -0.1)
    assert dr.model_spec("no_residual", 64, SMOKE)["f_skips"] is False
    assert "kappa" not in dr.model_spec("dds", 64, SMOKE)  # the defaults (kappa 0.1, epsilon 0.1)
    with pytest.raises(ValueError, match="unknown Table 5 row"):
        dr.model_spec("dds_plus", 64, SMOKE)
    with pytest.raises(ValueError, match="granularity"):
        dr.model_spec("dds", 64, Settings({**SMOKE, "granularity": "channel"}))
    x = torch.rand(2, 3, 4, 4)
    assert float(dr.Reconstruction()(nn.Identity(), x)["loss"]) == 0.0
    assert dr.Reconstruction().describe() == {"objective": "Reconstruction"}


def test_section3_checks():
    errors = dr.gate_formula_error()
    assert (errors["max |ours - formula|"] < 1e-15).all()
    assert errors["clamp acts on the grid"].tolist() == [False, True]
    zeros = dr.exact_zero_table([0.0, 1.0], [1.0, 0.1], n=100_000)
    assert (zeros["|sampled - closed|, in standard errors"] < 5).all()
    assert zeros.loc[zeros.kappa == 0.1, "P(0) closed form"].max() < 1e-6
    masks = dr.mask_checks(1024, [1, 64, 1024])
    assert (masks["fewest ones in a row"] == masks.index).all() and (masks["most ones in a row"] == masks.index).all()
    assert not masks["a dropped score beats a kept one"].any()
    assert dr.dynamic_share(100_000, 64, 1024, 0.1) == pytest.approx(0.1, abs=0.005)


def test_gradient_flow_on_a_small_model():
    torch.manual_seed(0)
    model = DDSAutoencoder(m=20, channels=2, f_channels=2)
    flow = dr.gradient_flow(model, torch.rand(3, 3, 32, 32))
    assert flow["kept with gradient"] == 1.0 and flow["dropped with gradient"] == 0.0
    assert flow["Gamma_M requires grad"] is False and flow["selector gradient norm"] > 0
    assert all(p.grad is None for p in model.parameters())  # left clean


def test_saved_bytes_do_not_depend_on_m_but_on_the_batch():
    torch.manual_seed(0)
    model = DDSAutoencoder(m=10, channels=2, f_channels=2)
    x = torch.rand(4, 3, 32, 32)
    small = dr.saved_activation_bytes(model, x)
    model.m = 1000
    assert dr.saved_activation_bytes(model, x) == small > 0
    assert dr.saved_activation_bytes(model, torch.rand(8, 3, 32, 32)) > 1.9 * small
    frame = dr.memory_across_m(Settings({**SMOKE, "channels": 2, "f_channels": 2}), [0.02, 0.5, 1.0], batch=2)
    assert frame["M"].tolist() == [20, 512, 1024] and (frame["DDS / smallest M"] == 1.0).all()
    assert frame["L2X-style selector output bytes"].tolist() == [4 * 2 * 1024 * m for m in (20, 512, 1024)]


def test_parameter_table_and_gate_statistics():
    table = dr.parameter_table(SMOKE, [64])
    assert table.loc["selector g, U-Net C = 16 (the document's)", "parameters"] == 483441
    assert len(table) == 5

    class Bright(nn.Module):  # scores = brightness: the mask keeps the brightest pixels
        def forward(self, x):
            return x.mean(1, keepdim=True) * 100

    model = DDS(Bright(), nn.Identity(), m=10)
    stats = dr.gate_statistics(model, torch.rand(3, 3, 8, 8))
    assert stats["overlap with the brightest M pixels"] == 1.0
    assert 0 < stats["mean gate of kept features"] <= 1 and 0 <= stats["kept gates above 0.99"] <= 1


def test_figures_draw():
    import matplotlib
    matplotlib.use("Agg")
    torch.manual_seed(0)
    fig = dr.figure1(DDSAutoencoder(m=100, channels=2, f_channels=2), torch.rand(2, 3, 32, 32))
    assert len(fig.axes) == 10
    ours = pd.DataFrame({64: [0.02, 0.01], 256: [0.01, 0.004]}, index=[dr.ROW_LABELS["naive_ae"], "DDS"])
    assert dr.ablation_figure(ours, dr.paper_table5([64, 256])).axes
    assert len(dr.gate_figure(2000).axes) == 2
