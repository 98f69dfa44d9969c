"""Issue 15 for World Models: every model the 4_2_* chapters train is a job of the part's
training plan, listed as soon as what it depends on is trained, and the chapters train through
those jobs (a cache filled from the plan means they train nothing)."""
import numpy as np
import torch

from repro_lib import train
from repro_lib.parts.dds import PROFILES
from repro_lib.parts.dds.world_models import controller as C
from repro_lib.parts.dds.world_models import recipes as wr
from repro_lib.parts.dds.world_models import rollouts as R
from repro_lib.parts.dds.world_models.mdn_rnn import MDNRNN
from repro_lib.parts.dds.world_models.vision import WorldModelsVAE
from repro_lib.profiles import Settings


def test_the_plan_lists_every_model_layer_by_layer_and_the_chapters_train_nothing_after_it(
        tmp_path, monkeypatch, hand_made_rollouts):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    s = Settings({**PROFILES["smoke"], "wm_seq_len": 6, "wm_cma_max_steps": 5, "wm_eval_episodes": 2})
    data = wr.WMData(hand_made_rollouts((20, 14), 0, "train"), hand_made_rollouts((18,), 5, "test"))
    monkeypatch.setattr(wr, "data_cached", lambda s: False)
    assert wr.training_jobs(s) == []  # no rollouts yet: nothing to describe (the plan never generates them)
    monkeypatch.setattr(wr, "data_cached", lambda s: True)
    monkeypatch.setattr(wr, "load_data", lambda s, progress=True: data)
    layers = []
    for _ in range(6):  # what an engine run trains, run after run
        new = [job for job in wr.training_jobs(s) if not job.cached()]
        if not new:
            break
        layers.append(sorted(job.name for job in new))
        for job in new:
            job.fit(progress=False)
    assert layers == [sorted(["WM baseline VAE", "WM DDS stage 1 at 4%", "WM DDS stage 1 at 16%"]),
                      sorted(["WM DDS stage 2 (VAE on h) at 4%", "WM DDS stage 2 (VAE on h) at 16%"]),
                      sorted(["WM MDN-RNN (VAE)", "WM MDN-RNN (DDS+VAE)"]),
                      sorted(["WM controller (VAE)", "WM controller (DDS+VAE (M=4%))"])]
    jobs = wr.training_jobs(s)
    assert len(jobs) == 9 and len({job.key() for job in jobs}) == 9 and all(j.part == "dds" for j in jobs)
    before = train.TRAINED_COUNT
    models = wr.train_vision_models(data, s)  # what 4_2_1 and 4_2_2 call
    visions = wr.agent_visions(data, s)  # 4_2_3 and 4_2_4
    memories = wr.train_memories(data, visions, s)
    controllers = wr.train_controllers(visions, memories, s)
    assert train.TRAINED_COUNT == before
    assert all(m.from_cache for m in [*memories.values(), *controllers.values()])
    assert set(models) == {"VAE", "DDS+VAE M=4%", "DDS+VAE M=16%"}
    from repro_lib import plans  # a plan check runs a controller's search at its smallest (for_check)
    rows = [plans.check_job(job) for job in jobs if "controller" in job.name]
    assert len(rows) == 2 and [r.problem for r in rows] == ["", ""]


def test_plan_m_percents_adds_the_agents_m_once():
    s = Settings({**PROFILES["smoke"], "wm_m_percents": [4, 16], "wm_agent_m": 8})
    assert wr.plan_m_percents(s) == [4.0, 16.0, 8.0]
    assert wr.plan_m_percents(Settings({**s, "wm_agent_m": 4})) == [4.0, 16.0]


def test_rollouts_and_candidate_episodes_go_through_the_task_map(monkeypatch):
    from repro_lib import tasks

    calls = []

    def spy(fn, items, shared=None, workers=None, desc="tasks", progress=True):
        items = list(items)
        calls.append((fn.__name__, len(items), workers))
        return [fn(shared, item) for item in items]

    monkeypatch.setattr(tasks, "task_map", spy)
    episodes = R.generate([3, 4], 6, workers=2, progress=False)
    assert calls[-1] == ("_rollout_task", 2, 2) and [len(e["frames"]) for e in episodes] == [6, 6]
    assert np.array_equal(episodes[0]["frames"], R.one_rollout(3, 6)["frames"])
    torch.manual_seed(0)
    specs = ({"family": "wm_vae", "latent": 32}, {"family": "wm_mdn_rnn"},
             {"family": "wm_controller", "latent": 32, "hidden": 256})
    evaluator = C.ParallelEvaluator(WorldModelsVAE().eval(), specs[0], MDNRNN().eval(), specs[1], specs[2],
                                    workers=3)
    candidates = np.random.default_rng(0).normal(0, 0.1, (2, 867))
    returns = evaluator.returns(candidates, [1, 2], 4)
    assert calls[-1] == ("_episode_task", 4, 3) and returns.shape == (2, 2)
    agent = C._agent_of(evaluator.shared)  # memoised per shared object: built once
    assert C._agent_of(evaluator.shared) is agent
    C.set_flat(agent.controller, candidates[1])
    assert returns[1, 0] == C.episode_return(agent, 1, 4)


def test_full_profiles_vision_jobs_build_and_step(monkeypatch, hand_made_rollouts):
    """`plan --profile full --check` cannot reach the World Models jobs on a machine without the
    full rollouts (hours of simulation); this checks their models under `full`'s layers here."""
    from repro_lib import models, plans
    from repro_lib.parts.dds.world_models import training as T

    s = Settings(PROFILES["full"])
    data = wr.WMData(hand_made_rollouts((6, 4), 0, "train"), hand_made_rollouts((4,), 5, "test"))
    monkeypatch.setattr(wr, "data_cached", lambda s: True)
    monkeypatch.setattr(wr, "load_data", lambda s, progress=True: data)
    monkeypatch.setattr(plans.TrainingJob, "cached", lambda self: False)
    jobs = wr.training_jobs(s)
    assert [j.name for j in jobs] == ["WM baseline VAE"] + [f"WM DDS stage 1 at {m}%" for m in (2, 4, 8, 16, 32)]
    stage1 = jobs[1]
    untrained = train.FitResult(models.build(stage1.spec), {}, stage1.key(), False, 0.0)
    stage2 = T.stage2_job(data.train.images(), untrained, wr.arch(s), wr.stage2_settings(s), s.wm_alpha,
                          s.wm_lambda, s.wm_free_bits_scope, 2.0)
    rows = [plans.check_job(job) for job in (*jobs[:2], stage2)]
    assert [r.problem for r in rows] == ["", "", ""]
    assert rows[0].parameters == 4_348_547 and rows[2].parameters == 3_148_304  # the VAE on h at the default
