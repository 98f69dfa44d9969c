"""Training plans as data: jobs, their cache keys, the plan check and the cost estimate."""
import torch

from repro_lib import plans, train
from repro_lib.data import Tensors
from repro_lib.objectives import BetaVAE
from repro_lib.train import TrainSettings


def _job(name: str, data: Tensors | None = None, epochs: int = 1) -> plans.TrainingJob:
    data = data if data is not None else Tensors((torch.rand(64, 1, 32, 32),), "test-noise:64")
    return plans.TrainingJob("toy", name, {"family": "burgess_vae", "latent_dim": 3}, BetaVAE(1.0), data,
                             TrainSettings(epochs=epochs, batch_size=20))


def test_plan_check_finds_the_job_that_cannot_run():
    bad_data = Tensors((torch.rand(8, 1, 28, 28),), "test-noise:wrong-shape")
    rows = [plans.check_job(_job("good")), plans.check_job(_job("bad", data=bad_data))]
    assert rows[0].problem == "" and rows[0].parameters > 0
    assert rows[1].problem.startswith("RuntimeError")



def test_job_key_is_fits_key(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    job = _job("a")
    assert not job.cached()
    result = job.fit(progress=False)
    assert result.key == job.key() and job.cached()
    assert train.fit(job.spec, job.objective, job.data, job.settings, progress=False).from_cache


def test_steps_and_step_time():
    assert plans.steps_of(_job("a", epochs=3)) == 3 * (64 // 20)
    assert plans.seconds_per_step(_job("a"), steps=1) > 0


def _counting_loop(model, objective, data, settings, desc="", progress=True, val=None):
    """A loop with its own calling convention (as ProPos's): records what it was given."""
    _counting_loop.seen.append((len(data[0]), settings.epochs, settings.batch_size))
    return {"loss": [0.0]}


def test_a_job_with_its_own_loop_is_checked_by_running_it_and_duplicates_once():
    _counting_loop.seen = []
    data = Tensors((torch.rand(200, 1, 32, 32), torch.zeros(200)), "test-noise:200")
    jobs = [plans.TrainingJob("toy", f"loop seed {seed}", {"family": "burgess_vae", "latent_dim": 3}, BetaVAE(1.0),
                              data, TrainSettings(epochs=50, batch_size=100, seed=seed), loop=_counting_loop)
            for seed in range(3)]
    rows = [plans.check_job(jobs[0])]
    assert rows[0].problem == "" and _counting_loop.seen == [(64, 1, 32)]
    shapes = {plans.shape_of(job) for job in jobs}
    assert len(shapes) == 1  # the seeds differ only: one check serves all three
