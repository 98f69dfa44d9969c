"""Failures that used to give wrong results or lost work without a word (issue "Nothing
silent"): each test reproduces one and checks the project now says what is wrong."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

import repro_lib
from repro_lib import cache, profiles, runner, train
from repro_lib.data import Tensors
from repro_lib.objectives import BetaVAE
from repro_lib.paths import absolute_repro_paths, remove_stale_temporaries, repo_root, temporary_beside
from repro_lib.results import result_path

SPEC = {"family": "burgess_vae", "latent_dim": 2}
SETTINGS = train.TrainSettings(epochs=1, batch_size=16, seed=3)


def _images(n=32):
    return Tensors((torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(0)),), "unit:images")


@pytest.fixture()
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(tmp_path / "models"))
    return tmp_path / "models"


@pytest.fixture()
def tmp_root(tmp_path, monkeypatch):
    """A repository root of its own (results/, _build/), reading the real book/ and notebooks/."""
    for name in ("book", "notebooks", "_toc.yml", "_config.yml", "repro_lib"):
        (tmp_path / name).symlink_to(repo_root() / name)
    monkeypatch.setenv("REPRO_ROOT", str(tmp_path))
    return tmp_path


# 1. A run with overrides is kept apart and never scored as the profile's ---------------------

def test_an_overridden_run_is_written_apart_and_records_its_overrides(tmp_root):
    ch = repro_lib.chapter("attribution_priors", "4_1_pixel_prior", "smoke", epochs=7, n_train=None)
    assert ch.record.overrides == {"epochs": 7}
    ch.record.save({"tv_ratio": 99.0})
    assert not result_path("smoke", "attribution_priors", "4_1_pixel_prior").exists()
    kept = json.loads(result_path("smoke", "attribution_priors", "4_1_pixel_prior", custom=True).read_text())
    assert kept["overrides"] == {"epochs": 7} and kept["numbers"] == {"tv_ratio": 99.0}
    plain = repro_lib.chapter("attribution_priors", "4_1_pixel_prior", "smoke", epochs=None)
    assert plain.record.overrides == {}


def test_results_of_an_overridden_or_foreign_run_are_marked(tmp_root):
    from repro_lib.results import load_results

    path = result_path("smoke", "attribution_priors", "4_1_pixel_prior")
    path.parent.mkdir(parents=True)
    base = {"part": "attribution_priors", "notebook": "4_1_pixel_prior", "numbers": {"tv_ratio": 99.0}}
    path.write_text(json.dumps({**base, "profile": "smoke", "overrides": {"epochs": 7}}))
    problem = load_results("smoke")[("attribution_priors", "4_1_pixel_prior")]["problem"]
    assert "overrides {'epochs': 7}" in problem and "4_1_pixel_prior.json" in problem
    path.write_text(json.dumps({**base, "profile": "full", "overrides": {}}))
    assert "says profile 'full'" in load_results("smoke")[("attribution_priors", "4_1_pixel_prior")]["problem"]


# 2. A cached model with a flipped bit is refused, and nothing is computed from it -------------

def _flip_a_bit_in_the_weights(path: Path, payload_marker: bytes) -> None:
    blob = bytearray(path.read_bytes())
    at = blob.find(payload_marker)
    assert at > 0, "marker not found in the stored file"
    blob[at + 1] ^= 0x01
    path.write_bytes(bytes(blob))


def test_a_flipped_bit_in_a_cached_model_is_refused(tmp_cache):
    first = train.fit(SPEC, BetaVAE(), _images(), SETTINGS, progress=False)
    path = cache.path_of(first.key)
    weights = first.model.state_dict()["encoder.mu_head.weight"].contiguous()
    _flip_a_bit_in_the_weights(path, weights.numpy().tobytes()[:16])
    before = train.TRAINED_COUNT
    with pytest.raises(cache.CorruptCacheError, match="content checksum.*delete it to retrain"):
        train.fit(SPEC, BetaVAE(), _images(), SETTINGS, progress=False)
    assert train.TRAINED_COUNT == before


def test_a_truncated_cache_file_is_refused_with_advice(tmp_cache):
    first = train.fit(SPEC, BetaVAE(), _images(), SETTINGS, progress=False)
    path = cache.path_of(first.key)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(cache.CorruptCacheError, match="cannot be read.*delete it"):
        cache.load(first.key)


# 3. The runner never replaces a good copy with a failed one; the book refuses failed pages ---

def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_failed_notebook_keeps_the_good_copy_and_says_where_the_failure_is(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", "x = 1\nprint(x)")
    bad = _notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('no such column\\nAGE_BIN')")
    target = tmp_path / "out" / "nb.ipynb"
    target.parent.mkdir()
    runner.execute_one(good, target, {"profile": "smoke"})
    assert runner.page_problems(target) == []
    with pytest.raises(runner.NotebookFailed) as info:
        runner.execute_one(bad, target, {"profile": "smoke"})
    message = str(info.value)
    assert re.search(r"bad.ipynb failed in cell \[\d+\]: ValueError: AGE_BIN\n", message)
    assert message.endswith("out/nb.failed.ipynb")
    assert len(message.splitlines()) == 2
    assert runner.page_problems(target) == [], "the good copy was replaced"
    failed = target.with_name("nb.failed.ipynb")
    assert [p.split(" ", 2)[2] for p in runner.page_problems(failed)] == ["raised ValueError: no such column\nAGE_BIN"]
    assert not list(target.parent.glob(".*.tmp")) and not list(target.parent.glob(".nb*.ipynb"))


def test_page_problems_finds_cells_that_did_not_run(tmp_path):
    path = _notebook(tmp_path / "half.ipynb", "x = 1", "y = 2")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].execution_count, nb.cells[1].execution_count = 1, 2
    nbformat.write(nb, path)
    assert runner.page_problems(path) == ["cell 2 did not run"]


def test_book_refuses_failed_pages_naming_each(tmp_root, monkeypatch):
    executed = runner.executed_dir("smoke")
    for nb in runner.notebooks_of() + [runner.SCORECARD]:
        (executed / nb).parent.mkdir(parents=True, exist_ok=True)
        _notebook(executed / nb)  # never executed: every cell "did not run"
    monkeypatch.setattr(runner.subprocess, "run", lambda *a, **k: pytest.fail("jupyter-book ran"))
    with pytest.raises(runner.FailedPages, match="3_method.ipynb: cell 0 did not run"):
        runner.build_book("smoke")
    assert runner.main(["book", "--profile", "smoke"]) == 2


def test_a_page_built_anyway_says_so_at_its_top(tmp_path):
    path = _notebook(tmp_path / "p.ipynb", "x = 1")
    runner._mark_failed(path, ["cell 1 raised KeyError: 'AGE'"])
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("```{warning}")
    assert "cell 1 raised KeyError" in first.source


def test_two_runs_of_one_notebook_at_once_both_finish(tmp_path):
    """Two processes executing one notebook into one copy (as two terminals would)."""
    source = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(1)\nprint('done')")
    target = tmp_path / "out" / "slow.ipynb"
    target.parent.mkdir()
    code = ("import sys; from pathlib import Path; from repro_lib import runner; "
            "runner.execute_one(Path(sys.argv[1]), Path(sys.argv[2]), {'profile': 'smoke'})")
    env = {**os.environ, "PYTHONPATH": str(repo_root())}
    runs = [subprocess.Popen([sys.executable, "-c", code, str(source), str(target)], env=env,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert runner.page_problems(target) == []


# 4. REPRO_* folders mean what the user meant ------------------------------------------------

def test_relative_repro_paths_become_absolute_from_where_the_user_ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REPRO_DATA", "../shared/data")
    monkeypatch.setenv("REPRO_MODEL_CACHE", "cache/models")
    monkeypatch.setenv("REPRO_DATA_CACHE", str(tmp_path / "abs"))
    changed = absolute_repro_paths()
    assert os.environ["REPRO_DATA"] == str((tmp_path / "../shared/data").resolve())
    assert os.environ["REPRO_MODEL_CACHE"] == str(tmp_path / "cache" / "models")
    assert set(changed) == {"REPRO_DATA", "REPRO_MODEL_CACHE"}


# 5. An unwritable cache is found before training, and the trained model is still used -------

def test_an_unwritable_cache_warns_before_training_and_keeps_the_model(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REPRO_MODEL_CACHE", str(blocker / "models"))  # cannot be created, even by root
    with pytest.warns(RuntimeWarning, match="cannot be written"):
        result = train.fit(SPEC, BetaVAE(), _images(), SETTINGS, progress=False)
    assert not result.from_cache and isinstance(result.model, torch.nn.Module)


# 6. A diverging run stops with the NaN guard's message; non-finite knobs never start ---------

def test_a_huge_learning_rate_stops_with_the_guard_not_the_loss(tmp_cache):
    settings = train.TrainSettings(epochs=3, batch_size=8, lr=1e12, seed=0)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train.fit(SPEC, BetaVAE(), _images(64), settings, progress=False)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1e-2x"])
def test_non_finite_or_unparsable_knobs_are_refused_up_front(value):
    with pytest.raises(ValueError, match="setting 'lr'"):
        profiles.settings("ccvae_firebreak", "smoke", lr=value)


# Smaller ones ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, message", [
    (["abc"], r"setting 'threshold_quantiles\[0\]' must be float"),
    ([], "non-empty list"),
    ([0.5, 1.5], r"threshold_quantiles\[1\]' must be > 0 and < 1"),
])
def test_list_knobs_are_checked_element_by_element(value, message):
    with pytest.raises(ValueError, match=message):
        profiles.settings("ccvae_firebreak", "smoke", threshold_quantiles=value)


def test_numbers_are_read_as_a_user_writes_them():
    assert runner._parse_params([["lr", "1e-2"], ["radii", "[1e-2, 0.1]"]]) == {"lr": 0.01, "radii": [0.01, 0.1]}
    assert profiles.settings("adversarial_robustness", "smoke", weight_decay=0)["weight_decay"] == 0.0
    assert profiles.settings("adversarial_robustness", "smoke", lr=1e-2)["lr"] == 0.01


def test_part_and_notebook_of_another_part_conflict():
    with pytest.raises(ValueError, match="is not in part 'ccvae_firebreak'"):
        runner.plan("smoke", part="ccvae_firebreak", notebook="notebooks/attribution_priors/3_method.ipynb")


def test_a_bad_device_setting_names_the_setting(monkeypatch):
    from repro_lib.device import get_device

    get_device.cache_clear()
    monkeypatch.setenv("REPRO_DEVICE", "gpu0")
    try:
        with pytest.raises(ValueError, match="REPRO_DEVICE='gpu0' is not a device"):
            get_device()
    finally:
        get_device.cache_clear()


def test_stale_temporaries_of_killed_saves_are_removed(tmp_path):
    dead = tmp_path / ".model.pt.999999999.abcd.tmp"
    dead.write_bytes(b"half a model")
    mine = Path(temporary_beside(tmp_path / "model.pt"))  # a live writer (this process)
    assert remove_stale_temporaries(tmp_path) == [dead]
    assert mine.exists()
    cache.save_atomic(tmp_path / "other.pt", {"x": torch.ones(2)})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "other.pt"])


def test_a_generated_data_set_with_a_flipped_bit_is_refused(tmp_path):
    path = tmp_path / "data.pt"
    cache.save_atomic(path, {"layouts": torch.full((64,), 7, dtype=torch.uint8)})
    _flip_a_bit_in_the_weights(path, bytes([7] * 16))
    with pytest.raises(cache.CorruptCacheError, match=str(path)):
        cache.load_file(path)

