"""The DDS part's training plan: the models its chapters train, with the keys they train under."""
from repro_lib import plans
from repro_lib.parts.dds import recipes as dr
from repro_lib.profiles import settings


def test_plan_lists_table5_figure1_and_the_present_clustering_data():
    s = settings("dds", "smoke")
    jobs = plans.part_plan("dds", "smoke")
    names = [job.name for job in jobs]
    assert len([n for n in names if " M=" in n]) == len(dr.ROWS) * len(s.ms) * s.seeds + (s.figure_m not in s.ms)
    present = [d for d in s.cl_datasets if dr.dataset_status(d, s.data_source)[0]]
    assert present == ["cifar10"]  # offline: only the CIFAR-10 subset
    assert sorted(n for n in names if n.startswith("cifar10")) == sorted(
        f"cifar10 {m} seed {seed}" for m in dr.METHODS for seed in range(s.cl_seeds))
    assert len(set(job.key() for job in jobs)) == len(jobs)


def test_the_chapters_train_through_the_plans_jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    s = settings("dds", "smoke")
    result = dr.train_row("naive_ae", s.ms[0], dr.load_data(s), s)  # what 4_3_ablation calls
    assert result.key in {job.key() for job in plans.part_plan("dds", "smoke")}
    assert "epsilon_0" in dr.fig5_variants(settings("dds", "full"))
    assert dr.fig5_variants(s) == []
