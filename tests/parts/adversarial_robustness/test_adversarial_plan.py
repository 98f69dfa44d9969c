"""The adversarial part on the engine: its training plan lists every model its chapters train
(with the keys they train under), and the attack sweep runs as `tasks.task_map` tasks with the
same result serially and on two worker processes."""
import re
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch

from repro_lib import models, plans, train
from repro_lib.parts.adversarial_robustness import recipes as ar
from repro_lib.parts.adversarial_robustness.attacks import attack, start_noise
from repro_lib.paths import repo_root
from repro_lib.profiles import settings

NOTEBOOKS = repo_root() / "notebooks" / "adversarial_robustness"
# The training functions of the recipes, each with every call the chapters make of it under `s`.
CHAPTER_TRAININGS = {
    "train_background": lambda data, faces, s: [ar.train_background(n, data, s) for n in ar.BACKGROUND],
    "train_classifier": lambda data, faces, s: [ar.train_classifier(data, s)],
    "train_vae": lambda data, faces, s: [ar.train_vae(k, data, s, seed) for k in ar.KINDS
                                         for seed in range(s.seeds)],
    "train_attribute_judge": lambda data, faces, s: [ar.train_attribute_judge(faces, s)],
    "train_face_vae": lambda data, faces, s: [ar.train_face_vae(k, faces, s, seed) for k in ar.KINDS
                                              for seed in range(s.celeba_seeds)],
}


def test_the_chapters_train_only_through_the_recipes_listed_here():
    called = set()
    for path in NOTEBOOKS.glob("*.ipynb"):
        source = "\n".join(c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code")
        assert not re.search(r"\bfit\(|\.fit\(", source), f"{path.name} trains outside the recipes"
        called |= set(re.findall(r"\bar\.(train_\w+)\(", source))
    assert called == set(CHAPTER_TRAININGS)


def test_plan_lists_each_model_once():
    s = settings("adversarial_robustness", "smoke")
    jobs = plans.part_plan("adversarial_robustness", "smoke")
    names = [job.name for job in jobs]
    assert len(set(job.key() for job in jobs)) == len(jobs)
    expected = ({"vae seed 0", "beta_vae seed 0", "capacity seed 0", "classifier", "attribute judge"}
                | {f"{k} seed {seed}" for k in ar.KINDS for seed in range(s.seeds)}
                | {f"celeba {k} seed {seed}" for k in ar.KINDS for seed in range(s.celeba_seeds)})
    assert set(names) == expected and len(names) == len(expected)  # "jointvae" is "disentangled seed 0"


def test_a_cache_filled_from_the_plan_leaves_the_chapters_nothing_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path))
    s = settings("adversarial_robustness", "smoke")
    jobs = plans.part_plan("adversarial_robustness", "smoke")
    for job in jobs:
        job.fit(progress=False)
    trained = train.TRAINED_COUNT
    data, faces = ar.load_data(s), ar.load_faces(s)
    results = [r for calls in CHAPTER_TRAININGS.values() for r in calls(data, faces, s)]
    assert all(r.from_cache for r in results) and train.TRAINED_COUNT == trained
    assert {r.key for r in results} == {job.key() for job in jobs}  # and the plan lists nothing more


def test_capacity_rises_over_the_first_capacity_epochs():
    s = settings("adversarial_robustness", "smoke", capacity_epochs=2, epochs=6)
    assert ar.capacity_steps(640, s) == 2 * 10  # batch 64: 10 steps an epoch
    full = settings("adversarial_robustness", "full")
    assert full.capacity_epochs == full.epochs  # the author's code: C rises over all of training
    data = ar.Mnist(SimpleNamespace(x=torch.zeros(640, 1, 32, 32)), None, None, None)
    assert ar.vae_job("disentangled", data, s).objective.steps == 20
    assert ar.background_job("capacity", data, s).objective.steps == 20


# ----------------------------------------------------------------------------- the attack sweep


def _tiny_case(n=40):
    torch.manual_seed(0)
    vae = models.build(ar.vae_spec()).eval()
    judge = models.build(ar.CLASSIFIER_SPEC).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 32, 32, generator=g) * (torch.rand(n, 1, 32, 32, generator=g) < 0.3)
    data = ar.Mnist(None, None, x, torch.arange(n) % 10)
    s = SimpleNamespace(pairs_per_cell=1, attack_steps=3, attack_lr=1e-2)
    valid = np.arange(n) % 7 != 3  # some sources left out, as for misread reconstructions
    return vae, judge, data, s, valid


def test_the_start_noise_is_what_one_unchunked_attack_draws():
    src = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    tgt = src.flip(0)
    model = models.build(ar.vae_spec()).eval()
    drawn = attack(model.posterior_params, src, tgt, steps=2, generator=torch.Generator().manual_seed(5))
    given = attack(model.posterior_params, src, tgt, steps=2,
                   noise=start_noise(src.shape, 0.2, torch.Generator().manual_seed(5)))
    assert torch.equal(drawn.x_adv, given.x_adv)
    with pytest.raises(ValueError, match="noise"):
        attack(model.posterior_params, src, tgt, steps=1, noise=torch.zeros(5, 1, 32, 32))


def test_sweep_items_split_one_draw_by_source_digit():
    vae, judge, data, s, valid = _tiny_case()
    items, si, ti = ar.sweep_items(ar.AttackRequest("entangled", 3), data, s, valid)
    assert len(items) == 10 and len(si) == 90 and valid[si].all()
    noise = start_noise((90, 1, 32, 32), ar.NOISE_STD, torch.Generator().manual_seed(3))
    for digit, item in enumerate(items):
        rows = item["rows"]
        assert (data.test_y[si[rows]] == digit).all() and len(rows) == 9
        assert torch.equal(item["noise"], noise[rows]) and torch.equal(item["source"], data.test_x[si[rows]])
    assert sorted(np.concatenate([i["rows"] for i in items]).tolist()) == list(range(90))


def test_the_sweep_gives_the_same_attacks_serially_and_on_two_workers():
    vae, judge, data, s, valid = _tiny_case()
    other = models.build(ar.vae_spec()).eval()
    fits = {("entangled", 0): vae, ("disentangled", 0): other}
    requests = [ar.AttackRequest("entangled", 0), ar.AttackRequest("disentangled", 0),
                ar.AttackRequest("entangled", 0, 0.2)]
    valids = {key: valid for key in fits}
    serial = ar.run_attack_sweep(fits, judge, data, s, requests, valids, workers=1, progress=False)
    pooled = ar.run_attack_sweep(fits, judge, data, s, requests, valids, workers=2, progress=False)
    for request in requests:
        a, b = serial[request], pooled[request]
        pd.testing.assert_frame_equal(a.frame, b.frame)
        assert torch.equal(a.x_adv, b.x_adv) and torch.equal(a.recon_adv, b.recon_adv)
        assert len(a.frame) == 90 and a.frame.linf.max() <= request.radius + 1e-6
    # each task is the attack of its pairs from their own noise: one source digit by hand
    run = serial[requests[0]]
    rows = np.flatnonzero(run.frame.source.to_numpy() == 4)
    noise = start_noise((90, 1, 32, 32), ar.NOISE_STD, torch.Generator().manual_seed(0))[rows]
    by_hand = attack(vae.posterior_params, run.source[rows], data.test_x[run.frame.target_index.to_numpy()[rows]],
                     steps=3, lr=1e-2, noise=noise)
    assert torch.equal(by_hand.x_adv, run.x_adv[rows])
    assert (run.frame.predicted.to_numpy()[rows] == ar.predict(judge, ar.reconstruct(vae, by_hand.x_adv)).numpy()).all()
    # run_attacks is the one-request sweep
    single = ar.run_attacks(vae, judge, data, s, 0, valid=valid)
    pd.testing.assert_frame_equal(single.frame, run.frame)
