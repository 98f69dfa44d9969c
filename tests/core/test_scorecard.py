"""Scorecard checks, and the targets file's form."""
import json

import pytest

from repro_lib import scorecard
from repro_lib.paths import write_text_atomic


@pytest.mark.parametrize("check, value, expected", [
    ({">=": 25}, 30.0, True), ({">=": 25}, 24.9, False), ({"<": 0}, -0.2, True),
    ({"between": [1, 2]}, 1.5, True), ({"between": [1, 2]}, 2.5, False),
    ({"is": True}, True, True), ({"is": True}, False, False),
])
def test_evaluate(check, value, expected):
    assert scorecard.evaluate(check, value) is expected


def test_malformed_check_is_an_error():
    with pytest.raises(ValueError, match="unknown check"):
        scorecard.evaluate({"approximately": 3}, 3)
    with pytest.raises(ValueError, match="one comparison"):
        scorecard.evaluate({">": 1, "<": 3}, 2)


def test_targets_files_are_well_formed():
    targets = scorecard.load_targets()
    assert "attribution_priors" in targets
    ids = [c["id"] for c in targets["attribution_priors"]["claims"]]
    assert len(ids) == len(set(ids)) >= 10


def test_scorecard_reads_results(tmp_path, monkeypatch):
    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)
    record = {"part": "attribution_priors", "notebook": "4_1_pixel_prior", "profile": "smoke", "overrides": {},
              "numbers": {"tv_ratio": 60.0, "recon_increase_pct": 3.0}}
    write_text_atomic(tmp_path / "smoke" / "attribution_priors" / "4_1_pixel_prior.json",
                      json.dumps(record))
    table = scorecard.scorecard("smoke").set_index("claim")
    verdicts = dict(zip(table.index.str[:30], table.holds))
    assert table.loc[table.index.str.startswith("The total-variation"), "holds"].item() == "yes"
    assert table.loc[table.index.str.startswith("with under 1%"), "holds"].item() == "no"
    assert (table.holds == "not run").sum() == len(table) - 2, verdicts
    assert "<table" in scorecard.to_html(table.reset_index())


@pytest.mark.parametrize("content, says", [
    ("{not json", "cannot be read"),
    (json.dumps({"part": "attribution_priors", "notebook": "4_1_pixel_prior", "profile": "smoke",
                 "numbers": {"tv_ratio": None}}), "NaN or null"),
    (json.dumps({"part": "attribution_priors", "notebook": "4_1_pixel_prior", "profile": "smoke",
                 "numbers": {"tv_ratio": "60x"}}), "not a number"),
    (json.dumps({"part": "attribution_priors", "notebook": "4_1_pixel_prior", "profile": "smoke",
                 "numbers": {}}), "has no measure 'tv_ratio'"),
    (json.dumps(["a list"]), "not a result record"),
])
def test_a_bad_result_file_marks_its_rows_and_the_page_still_renders(tmp_path, monkeypatch, content, says):
    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)
    path = tmp_path / "smoke" / "attribution_priors" / "4_1_pixel_prior.json"
    write_text_atomic(path, content)
    table = scorecard.scorecard("smoke")
    row = table[table.claim.str.startswith("The total-variation")].iloc[0]
    assert row.holds.startswith("invalid:") and says in row.holds and "4_1_pixel_prior.json" in row.holds
    assert (table.holds == "not run").sum() >= len(table) - 2
    assert "invalid" in scorecard.to_html(table)
