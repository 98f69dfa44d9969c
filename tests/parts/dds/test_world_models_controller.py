"""The controller: 867 parameters, action squashing, flat parameters, and CMA-ES on a toy objective."""
import numpy as np
import pytest
import torch

from repro_lib.parts.dds.networks import parameter_count
from repro_lib.parts.dds.world_models.controller import (
    CMASettings,
    Controller,
    generation_seeds,
    get_flat,
    run_cma_es,
    set_flat,
    squash,
)


def test_controller_has_867_parameters():
    assert parameter_count(Controller(32, 256, 3)) == (32 + 256 + 1) * 3 == 867


def test_squashing_keeps_actions_in_the_box():
    raw = torch.tensor([[-1e3, -1e3, -1e3], [1e3, 1e3, 1e3], [0.0, 0.0, 0.0], [0.5, -0.5, -0.5]])
    a = squash(raw)
    assert a[0].tolist() == [-1.0, 0.0, 0.0] and a[1].tolist() == [1.0, 1.0, 1.0]
    assert a[2].tolist() == [0.0, 0.5, 0.0]  # Ha's: gas (tanh + 1) / 2, brake clip(tanh, 0, 1)
    assert a[3, 0] == pytest.approx(np.tanh(0.5)) and a[3, 2] == 0.0
    many = squash(torch.randn(1000, 3) * 5)
    assert (many[:, 0].abs() <= 1).all() and (many[:, 1:] >= 0).all() and (many[:, 1:] <= 1).all()


def test_flat_parameters_round_trip():
    c = Controller()
    flat = np.arange(867, dtype=float) / 867
    set_flat(c, flat)
    assert np.allclose(get_flat(c), flat, atol=1e-7)
    with pytest.raises(ValueError, match="867"):
        set_flat(c, np.zeros(10))


def test_cma_es_solves_a_toy_objective():
    target = np.linspace(-1, 1, 8)

    def reward(candidates, generation):
        return -((candidates - target) ** 2).sum(1)

    best, history = run_cma_es(reward, np.zeros(8), 0.5, popsize=12, generations=80, seed=0, progress=False)
    assert np.abs(best - target).max() < 0.05
    assert history["best_reward"][-1] > -1e-3 > history["best_reward"][0]
    assert len(history["sigma"]) == 80
    again, _ = run_cma_es(reward, np.zeros(8), 0.5, popsize=12, generations=80, seed=0, progress=False)
    assert np.array_equal(best, again)  # seeded


def test_generation_seeds_cycle_through_the_tracks():
    assert generation_seeds([5, 6, 7], 0, 2) == [5, 6]
    assert generation_seeds([5, 6, 7], 1, 2) == [7, 5]
    assert CMASettings(popsize=4, generations=1, rollouts=1).max_steps == 1000


def test_candidate_evaluation_parallel_equals_serial_and_fit_caches_the_controller(tmp_path, monkeypatch):
    pytest.importorskip("Box2D")
    from repro_lib.parts.dds.world_models import training as T
    from repro_lib.parts.dds.world_models.controller import ParallelEvaluator
    from repro_lib.parts.dds.world_models.mdn_rnn import MDNRNN
    from repro_lib.parts.dds.world_models.vision import WorldModelsVAE
    from repro_lib.train import FitResult

    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    torch.manual_seed(0)
    vision, mdn = WorldModelsVAE().eval(), MDNRNN(hidden=16).eval()
    vision_spec, mdn_spec = {"family": "wm_vae", "latent": 32}, {"family": "wm_mdn_rnn", "hidden": 16}
    controller_spec = {"family": "wm_controller", "latent": 32, "hidden": 16}
    candidates = np.random.default_rng(0).normal(0, 0.5, (3, (32 + 16 + 1) * 3))
    with ParallelEvaluator(vision, vision_spec, mdn, mdn_spec, controller_spec, workers=1) as serial:
        one = serial(candidates, [1], max_steps=60)
    with ParallelEvaluator(vision, vision_spec, mdn, mdn_spec, controller_spec, workers=2) as parallel:
        two = parallel(candidates, [1], max_steps=60)
    assert np.allclose(one, two) and one.shape == (3,)

    trained = T.TrainedVision(vision, vision_spec, "vision-key", "VAE")
    memory = FitResult(mdn, {}, "mdn-key", False, 0.0)
    settings = CMASettings(popsize=2, generations=1, rollouts=1, max_steps=5)
    first = T.train_controller(trained, memory, [1, 2], settings, workers=1)
    assert first.history["best_reward"] and parameter_count(first.model) == (32 + 16 + 1) * 3
    assert T.train_controller(trained, memory, [1, 2], settings, workers=2).from_cache  # workers: not in the key


def test_reward_summaries_match_scipy():
    from scipy import stats

    from repro_lib.parts.dds.world_models.controller import difference_interval, reward_summary

    rng = np.random.default_rng(0)
    a, b = rng.normal(735, 163, 100), rng.normal(819, 147, 60)
    summary = reward_summary(a)
    low, high = stats.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=stats.sem(a))
    assert summary["ci_low"] == pytest.approx(low) and summary["ci_high"] == pytest.approx(high)
    assert summary["std"] == pytest.approx(a.std(ddof=1)) and summary["n"] == 100
    diff = difference_interval(a, b)
    reference = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert diff["difference"] == pytest.approx(b.mean() - a.mean())
    assert diff["ci_low"] == pytest.approx(reference.low) and diff["ci_high"] == pytest.approx(reference.high)
    with pytest.raises(ValueError, match="two"):
        reward_summary([1.0])
