"""Profiles and the runner reject bad input before any work."""
import pytest

from repro_lib import book_parts as parts
from repro_lib import profiles, runner


def test_every_profile_defines_the_same_knobs():
    for part in parts.PARTS:
        by_profile = parts.package(part).PROFILES
        keys = {name: set(knobs) for name, knobs in by_profile.items()}
        assert set(keys) == set(profiles.PROFILE_NAMES), part
        assert len({frozenset(k) for k in keys.values()}) == 1, f"{part}: profiles differ in knobs"


def test_profiles_grow_from_smoke_to_full():
    knobs = parts.package("attribution_priors").PROFILES
    for key in ("n_train", "epochs", "runs_per_lambda"):
        assert knobs["smoke"][key] <= knobs["cpu"][key] <= knobs["full"][key]
    assert knobs["full"]["epochs"] == 50 and knobs["full"]["n_train"] == 60000


def test_settings_applies_overrides_and_keeps_none():
    s = profiles.settings("attribution_priors", "smoke", epochs=3, n_train=None)
    assert s.epochs == 3 and s.n_train == profiles.knobs("attribution_priors", "smoke")["n_train"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(profile="laptop"), "smoke, cpu, full"),
    (dict(part="nope"), "attribution_priors"),
    (dict(epochs="many"), "must be int"),
    (dict(epochs=0), "must be > 0"),
    (dict(learning_rate=1.0), "allowed: "),
])
def test_settings_errors_list_allowed_values(kwargs, message):
    part = kwargs.pop("part", "attribution_priors")
    profile = kwargs.pop("profile", "cpu")
    with pytest.raises(ValueError, match=message):
        profiles.settings(part, profile, **kwargs)


def test_runner_rejects_unknown_profile_part_parameter_before_work(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: calls.append(a))
    assert runner.main(["run", "--profile", "gpu"]) == 2
    assert "smoke, cpu, full" in capsys.readouterr().err
    assert runner.main(["run", "--profile", "smoke", "--part", "dds_nope"]) == 2
    assert "attribution_priors" in capsys.readouterr().err
    assert runner.main(["run", "--profile", "smoke", "-p", "bogus", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'bogus'" in err and "epochs" in err
    assert runner.main(["run", "--profile", "smoke", "-p", "epochs", "-1"]) == 2
    assert "must be > 0" in capsys.readouterr().err
    assert runner.main(["run", "--profile", "smoke", "--notebook", "notebooks/x.ipynb"]) == 2
    assert "3_method" in capsys.readouterr().err
    assert calls == []


def test_every_notebook_has_a_profile_parameter_and_is_planned():
    jobs = runner.plan("smoke")
    assert [nb.name for nb, _ in jobs] == [p.name for p in runner.notebooks_of()]
    for nb, params in jobs:
        assert params == {"profile": "smoke"}
        assert "profile" in runner.parameters_of(nb)


def test_plan_passes_a_parameter_only_to_notebooks_that_declare_it():
    jobs = dict(runner.plan("smoke", part="attribution_priors", params={"tv_lambdas": [0.1]}))
    declaring = [nb for nb, p in jobs.items() if "tv_lambdas" in p]
    assert declaring and all("tv_lambdas" in runner.parameters_of(nb) for nb in declaring)
    assert len(declaring) < len(jobs)


def test_book_build_refuses_without_executed_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "executed_dir", lambda profile: tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m repro_lib run --profile smoke"):
        runner.build_book("smoke")
