"""What the runner prints and what it leaves in an executed copy."""
import os
import subprocess
import sys

import nbformat

from repro_lib import runner
from repro_lib.paths import repo_root

WIDGET = "application/vnd.jupyter.widget-view+json"


def _widget_output(model_id: str) -> dict:
    return nbformat.v4.new_output("display_data", data={
        WIDGET: {"model_id": model_id, "version_major": 2, "version_minor": 0},
        "text/plain": "train:  40%|####      | 2/5"})


def test_tidy_drops_closed_widgets_and_hides_the_default_parameters(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]})
    work = nbformat.v4.new_code_cell("fit()")
    work.outputs = [_widget_output("closed-bar"), _widget_output("live-slider"),
                    nbformat.v4.new_output("stream", name="stdout", text="trained in 3 s\n")]
    nb.cells = [params, work]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"live-slider": {"model_name": "IntSliderModel", "state": {}}}}}
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    runner._tidy_executed_copy(path)
    tidy = nbformat.read(path, as_version=4)
    assert tidy.cells[0].metadata["tags"] == ["parameters", "remove-cell"]
    kept = tidy.cells[1].outputs
    assert [o.get("data", {}).get(WIDGET, {}).get("model_id") for o in kept] == ["live-slider", None]
    assert kept[1]["text"] == "trained in 3 s\n"


def test_run_prints_progress_and_no_kernel_transport_warning():
    env = {**os.environ, "PYTHONPATH": str(repo_root())}
    done = subprocess.run([sys.executable, "-m", "repro_lib", "run", "--profile", "smoke",
                           "--notebook", "book/scorecard.ipynb"], cwd=repo_root(), env=env,
                          capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "[smoke book 1/1] scorecard done in" in out
    assert "without encryption" not in out and "never awaited" not in out, out[-3000:]


def test_the_intro_status_line_becomes_the_scorecards_counts(tmp_path, monkeypatch):
    intro = tmp_path / "intro.md"
    intro.write_text("# Intro\n\n<!-- status: replaced at build -->\n\nmore\n")
    monkeypatch.setattr("repro_lib.scorecard.status_markdown", lambda profile: f"| counts at {profile} |")
    runner._write_status(intro, "cpu")
    assert intro.read_text() == "# Intro\n\n| counts at cpu |\n\nmore\n"
