"""The influential-factors part's training plan: every model its chapters train, each once, under
the key the chapters train it with (they train through the plan's jobs)."""
import itertools

import pytest

from repro_lib import cache, plans, runner
from repro_lib.parts.influential_factors import recipes as inf
from repro_lib.paths import absolute_repro_paths, repo_root
from repro_lib.profiles import settings

PART = "influential_factors"


def _names(jobs):
    return [job.name for job in jobs]


def test_plan_lists_every_sweep_once(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    s = settings(PART, "smoke")
    jobs = plans.part_plan(PART, "smoke")
    assert len({job.key() for job in jobs}) == len(jobs)
    names = _names(jobs)
    grids = inf.table_grids(s)
    table = {(ld, lr, beta) for grid in grids.values() for ld, lr, beta in grid}
    assert sorted(n for n in names if n.startswith("table") and "weight" not in n and "written" not in n) == sorted(
        f"table tcvae LD={ld} lr={lr:g} beta={beta:g}" for ld, lr, beta in table)
    assert "table tcvae LD=5 lr=0.0001 beta=2 as written" in names
    assert "table tcvae LD=5 lr=0.0001 beta=2 weight 1" in names
    assert sorted(n for n in names if n.startswith("MNIST")) == sorted(f"MNIST 2-D beta={b:g}" for b in s.betas_2d)
    faces = {(s.image_ld, s.image_lr), *itertools.product(s.celeba_lds, s.celeba_lrs)}
    assert sorted(n for n in names if n.startswith("faces tcvae")) == sorted(
        f"faces tcvae LD={ld} lr={lr:g}" for ld, lr in faces)
    assert "faces betavae LD=20 lr=0.001" in names and sum(n.startswith("dSprites") for n in names) == 2
    assert not any(n.startswith("MSVAE") for n in names)  # no stage 1 in this empty cache yet


def test_the_chapters_train_through_the_plans_jobs(tmp_path, monkeypatch):
    """What 3_3 and 3_4 call: the table models and the table MSVAE's stage 2, which joins the
    plan once its stage 1 is cached."""
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    s = settings(PART, "smoke")
    table = inf.load_table(s)
    stage1 = inf.train_table(table, s, 5, 1e-4, 2.0)
    written = inf.train_table(table, s, 5, 1e-4, 2.0, as_written=True)
    jobs = {job.name: job.key() for job in plans.part_plan(PART, "smoke")}
    assert stage1.key == jobs["table tcvae LD=5 lr=0.0001 beta=2"]
    assert written.key == jobs["table tcvae LD=5 lr=0.0001 beta=2 as written"]
    stage2 = inf.msvae_job(stage1, table.training, inf.table_msvae_spec(5), s.table_epochs, s.table_batch, 1e-3)
    assert jobs["MSVAE stage 2 of table tcvae LD=5 lr=0.0001 beta=2"] == stage2.key()


def _cached_models() -> set:
    folder = cache.cache_dir()
    return {p.name for p in folder.glob("*.pt")} if folder.is_dir() else set()


@pytest.mark.slow
def test_smoke_notebooks_train_nothing_once_the_plan_is_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path / "models"))
    for _ in range(2):  # the second listing adds the MSVAEs' stage 2 (their stage 1 is cached by then)
        for job in plans.part_plan(PART, "smoke"):
            job.fit(progress=False)
    trained = _cached_models()
    assert len(trained) == len(plans.part_plan(PART, "smoke"))
    absolute_repro_paths()
    for notebook in runner.notebooks_of(PART):
        runner.execute_one(repo_root() / notebook, tmp_path / notebook.name, {"profile": "smoke"})
    assert _cached_models() == trained
