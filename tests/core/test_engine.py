"""Training plans and the Ray engine: a plan's models land in the cache (bit-identical to an
in-process fit), a failing job is reported while the others finish and leaves nothing in the
cache, and `plan --check` finds a job that cannot run."""
import os
import signal
import sys
from pathlib import Path

import pytest
import torch

from repro_lib import cache, engine, plans, runner, tasks, train
from repro_lib.data import Tensors
from repro_lib.objectives import BetaVAE
from repro_lib.train import TrainSettings

ray = pytest.importorskip("ray", reason="the engine's optional dependency; `make setup` installs it")


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def model_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path / "models"))
    return tmp_path / "models"


def _images(seed: int, n: int = 64) -> Tensors:
    g = torch.Generator().manual_seed(seed)
    return Tensors((torch.rand(n, 1, 32, 32, generator=g),), f"test-noise:{seed}:{n}")


def _job(name: str, latent_dim: int = 3, seed: int = 0, data: Tensors | None = None) -> plans.TrainingJob:
    spec = {"family": "burgess_vae", "latent_dim": latent_dim}
    data = data if data is not None else _images(seed)
    return plans.TrainingJob("toy", name, spec, BetaVAE(1.0), data, TrainSettings(epochs=1, batch_size=32, seed=seed))


def test_plan_trains_into_the_cache_exactly_as_fit(local_ray, model_cache, monkeypatch):
    jobs = [_job("a", seed=0), _job("b", seed=1)]
    report = engine.train_plan(jobs, workers=2, progress=False)
    assert sorted(report.trained) == ["toy/a", "toy/b"] and not report.failed
    assert all(job.cached() for job in jobs)
    loaded = jobs[0].fit(progress=False)
    assert loaded.from_cache
    again = engine.train_plan(jobs, workers=2, progress=False)
    assert again.trained == [] and sorted(again.cached) == ["toy/a", "toy/b"]
    # The same training in this process (1 thread, as the worker) gives the same weights.
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(model_cache.parent / "other"))
    torch.set_num_threads(1)
    here = train.fit(jobs[0].spec, jobs[0].objective, jobs[0].data, jobs[0].settings, progress=False)
    assert not here.from_cache and here.key == loaded.key
    for name, value in here.model.state_dict().items():
        assert torch.equal(value, loaded.model.state_dict()[name]), name


def test_a_failing_job_is_reported_and_the_others_finish(local_ray, model_cache):
    bad_data = Tensors((torch.rand(64, 1, 28, 28),), "test-noise:wrong-shape")  # the net wants 32x32
    good, bad = _job("good", seed=2), _job("bad", data=bad_data)
    report = engine.train_plan([good, bad], workers=2, retries=0, progress=False)
    assert report.trained == ["toy/good"]
    assert list(report.failed) == ["toy/bad"]
    assert "burgess_vae" in report.failed["toy/bad"] and "Error" in report.failed["toy/bad"]
    assert good.cached() and not bad.cached()
    assert not [p for p in model_cache.iterdir() if p.suffix != ".pt"]  # no temporaries left
    assert "1 failed" in report.summary() and "FAILED toy/bad" in report.summary()


def dies_on_its_first_try(model, objective, x, settings, desc, progress, val=None):
    """A training loop whose worker is killed (SIGKILL, as an out-of-memory kill would) in the
    middle of its first attempt; `desc` is the marker file that remembers the attempt."""
    marker = Path(desc)
    if not marker.exists():
        train.adam_minibatches(model, objective, x, settings, "half", False)  # some work first
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return train.adam_minibatches(model, objective, x, settings, "second try", False, val)


def test_a_killed_worker_is_retried_and_the_cache_holds_no_partial_file(local_ray, model_cache, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests
    marker = tmp_path / "first-attempt"
    job = plans.TrainingJob("toy", str(marker), {"family": "burgess_vae", "latent_dim": 3}, BetaVAE(1.0),
                            _images(7), TrainSettings(epochs=1, batch_size=32, seed=7), loop=dies_on_its_first_try)
    other = _job("other", seed=8)
    report = engine.train_plan([job, other], workers=2, retries=2, progress=False)
    assert marker.exists(), "the first attempt did not run"
    assert int(marker.read_text()) != os.getpid()
    assert not report.failed and sorted(report.trained) == sorted([job.label(), "toy/other"])
    assert job.cached() and other.cached()
    assert sorted(p.suffix for p in model_cache.iterdir()) == [".pt", ".pt"]  # no temporaries


def test_task_map_runs_its_items_on_the_engines_cluster(local_ray, monkeypatch):
    from test_tasks import fails_on_three, where_and_what

    ray.cloudpickle.register_pickle_by_value(sys.modules["test_tasks"])
    monkeypatch.setenv(tasks.ADDRESS_VARIABLE, ray.get_runtime_context().gcs_address)
    shared = {"weights": list(range(1000))}
    rows = tasks.task_map(where_and_what, range(6), shared, progress=False)
    assert os.getpid() not in {pid for pid, _, _ in rows}
    assert {t for _, t, _ in rows} == {tasks.token(shared)} and all(held for _, _, held in rows)
    with pytest.raises(tasks.TaskError, match=r"item 3 failed: .*three is not allowed"):
        tasks.task_map(fails_on_three, range(5), progress=False)


def test_a_plan_that_grows_as_models_are_cached_is_trained_in_rounds(local_ray, model_cache, monkeypatch):
    """A second stage listed only once its first stage is cached (an MSVAE's stage 2) is
    trained in the next round, so the notebooks find both."""
    first, second = _job("stage 1", seed=11), _job("stage 2", seed=12)
    monkeypatch.setattr(plans, "part_plan", lambda part, profile: [first] + ([second] if first.cached() else []))
    report = engine.train_parts(["toy"], "smoke", workers=2, progress=False)
    assert report.trained == ["toy/stage 1", "toy/stage 2"] and not report.failed
    assert first.cached() and second.cached()
    assert engine.train_parts(["toy"], "smoke", workers=2, progress=False).trained == []


def test_engine_refuses_a_read_only_cache(model_cache, monkeypatch):
    monkeypatch.setattr(cache, "writable", lambda: False)
    with pytest.raises(engine.EngineError, match="not writable"):
        engine.train_plan([_job("a", seed=5)], progress=False)


def test_ccvae_notebooks_train_through_their_plan(capsys):
    assert "ccvae_firebreak" in plans.parts_with_plans()
    assert runner.main(["plan", "--profile", "smoke", "--part", "ccvae_firebreak"]) == 0
    out = capsys.readouterr().out
    assert "ccvae_firebreak/VAE" in out and "ccvae_firebreak/CCVAE" in out


def test_engine_flags_are_checked(capsys):
    assert runner.main(["run", "--profile", "smoke", "--engine", "ray", "--notebook", "x.ipynb"]) == 2
    assert "drop --notebook" in capsys.readouterr().err


def test_a_workers_part_run_returns_its_files_as_bytes(tmp_path, monkeypatch):
    """The worker half of `run_notebooks`, in this process: the executed copy and the result
    file come back keyed by their path in the repository (the driver writes them)."""
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path / "models"))
    out = engine._run_part_remote(str(runner.repo_root()), "smoke", ["notebooks/ccvae_firebreak/2_ccvae.ipynb"], 1)
    assert out["error"] == ""
    assert set(out["files"]) == {"_build/executed/smoke/notebooks/ccvae_firebreak/2_ccvae.ipynb",
                                 "results/smoke/ccvae_firebreak/2_ccvae.json"}
    assert b'"profile": "smoke"' in out["files"]["results/smoke/ccvae_firebreak/2_ccvae.json"]
    failed = engine._run_part_remote(str(runner.repo_root()), "smoke", ["notebooks/none.ipynb"], 1)
    assert failed["files"] == {} and failed["error"].startswith("notebooks/none.ipynb")
