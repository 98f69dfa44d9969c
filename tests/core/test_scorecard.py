"""The scorecard's verdicts (holds / fails / inconclusive / not run / invalid) on a toy part
whose claims and result files are written here, and the form of the real claims files."""
import json
import re

import pytest
import yaml

from repro_lib import scorecard
from repro_lib.paths import seeds_dir, write_text_atomic

TOY = {
    "part": "toy",
    "gates": [
        {"id": "recon", "what": "plain VAE test reconstruction below 200 nats", "notebook": "train",
         "measure": "recon", "check": {"<": 200}},
        {"id": "active", "what": "at least 2 active latents", "notebook": "train",
         "measure": "active", "check": {">=": 2}},
    ],
    "claims": [
        {"id": "plain", "claim": "ratio is large", "where": "Sec. 1", "paper": "50x", "notebook": "measure",
         "measure": "ratio", "check": {">=": 25}},
        {"id": "gated", "claim": "the prior separates latents", "where": "Sec. 2", "paper": "decreases",
         "notebook": "measure", "measure": "trend", "check": {"<": 0}, "gates": ["recon", "active"]},
        {"id": "seeds", "claim": "A beats B", "where": "Table 1", "paper": "+6.9 points", "notebook": "measure",
         "measure": "diff", "interval": "diff_ci", "check": {">": 0}},
        {"id": "band", "claim": "accuracy 0.99", "where": "Table 2", "paper": "0.99", "notebook": "measure",
         "measure": "accuracy", "check": {"between": [0.98, 1.0]}, "band": "the document's 0.99 +- 0.01"},
    ],
}


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    """A part `toy` with the claims above; returns a writer of its result files."""
    (tmp_path / "book" / "toy").mkdir(parents=True)
    (tmp_path / "book" / "toy" / "claims.yaml").write_text(yaml.safe_dump(TOY))
    monkeypatch.setattr(scorecard, "PARTS", ("toy",))
    monkeypatch.setattr(scorecard, "claims_path", lambda part: tmp_path / "book" / part / "claims.yaml")
    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)

    def write(notebook, numbers, **extra):
        record = {"part": "toy", "notebook": notebook, "profile": "smoke", "overrides": {},
                  "numbers": numbers, **extra}
        write_text_atomic(tmp_path / "smoke" / "toy" / f"{notebook}.json", json.dumps(record))
    return write


def _verdicts(profile="smoke"):
    table = scorecard.scorecard(profile).set_index("claim")
    return {claim: (row.verdict, row.why) for claim, row in table.iterrows()}


def test_healthy_models_decide_and_a_degenerate_one_is_inconclusive(toy):
    toy("train", {"recon": 150.0, "active": 3})
    toy("measure", {"ratio": 60.0, "trend": -0.8, "diff": 0.05, "diff_ci": [0.01, 0.09], "accuracy": 0.99})
    v = _verdicts()
    assert [v[c][0] for c in ("ratio is large", "the prior separates latents", "A beats B", "accuracy 0.99")] \
        == ["holds", "holds", "holds", "holds"]
    toy("train", {"recon": 236.0, "active": 1})  # a collapsed plain VAE
    verdict, why = _verdicts()["the prior separates latents"]
    assert verdict == "inconclusive"
    assert "gate recon failed: plain VAE test reconstruction below 200 nats (ours 236, needs < 200)" in why
    assert "gate active failed" in why
    assert _verdicts()["ratio is large"][0] == "holds"  # an ungated claim is unaffected


def test_an_interval_decides_only_when_it_clears_the_threshold(toy):
    toy("train", {"recon": 150.0, "active": 3})
    for ci, expected in (([0.01, 0.09], "holds"), ([-0.02, 0.09], "inconclusive"), ([-0.09, -0.01], "fails")):
        toy("measure", {"ratio": 1.0, "trend": 1.0, "diff": 0.04, "diff_ci": ci, "accuracy": 0.5})
        verdict, why = _verdicts()["A beats B"]
        assert verdict == expected, (ci, verdict, why)
        assert (why == "the interval [-0.02, 0.09] straddles > 0") == (expected == "inconclusive")
    toy("measure", {"ratio": 1.0, "trend": 1.0, "diff": 0.04, "diff_ci": [None, None], "accuracy": 0.5})
    assert _verdicts()["A beats B"] == ("inconclusive", "no interval (a single seed, or NaN bounds)")


@pytest.mark.parametrize("check, low, high, expected", [
    ({">": 0}, 0.1, 0.2, "holds"), ({">": 0}, -0.1, 0.2, "inconclusive"), ({">": 0}, -0.2, -0.1, "fails"),
    ({"<=": 1}, 0.2, 1.0, "holds"), ({"<=": 1}, 0.2, 1.1, "inconclusive"), ({"<=": 1}, 1.1, 1.2, "fails"),
    ({"between": [0, 1]}, 0.2, 0.8, "holds"), ({"between": [0, 1]}, 0.5, 1.5, "inconclusive"),
    ({"between": [0, 1]}, 1.5, 2.0, "fails"),
])
def test_decide_interval(check, low, high, expected):
    assert scorecard.decide_interval(check, low, high) == expected


def test_missing_and_bad_results_say_what_is_wrong(toy):
    v = _verdicts()
    assert v["ratio is large"] == ("not run", "results/smoke/toy/measure.json does not exist yet")
    toy("measure", {"ratio": "60x", "trend": None})
    v = _verdicts()
    assert v["ratio is large"][0] == "invalid" and "not a number" in v["ratio is large"][1]
    assert v["accuracy 0.99"] == ("invalid", "results/smoke/toy/measure.json has no measure 'accuracy'")


def test_a_nan_measure_behind_a_failed_gate_is_inconclusive(toy):
    toy("train", {"recon": 236.0, "active": 3})
    toy("measure", {"ratio": 60.0, "trend": float("nan"), "diff": 0.05, "diff_ci": [0.01, 0.09], "accuracy": 0.99})
    verdict, why = _verdicts()["the prior separates latents"]
    assert verdict == "inconclusive" and why.startswith("gate recon failed")
    toy("train", {"recon": 150.0, "active": 3})
    assert _verdicts()["the prior separates latents"][0] == "invalid"  # healthy models: a NaN is a fault


def test_a_claim_on_an_absent_data_set_says_so(toy, monkeypatch):
    claim = {"claim": "c", "notebook": "measure_tiny", "requires_data": "tiny_imagenet"}
    monkeypatch.setattr(scorecard, "data_present", lambda name: False)
    assert scorecard.judge(claim, {}, {}, "smoke", "toy") == (
        "-", "not run", "the data set 'tiny_imagenet' is not on this machine (README, Data)")
    monkeypatch.setattr(scorecard, "data_present", lambda name: True)
    assert scorecard.judge(claim, {}, {}, "smoke", "toy")[2] == "results/smoke/toy/measure_tiny.json does not exist yet"
    full_only = {"claim": "c", "notebook": "variants", "only_under": ["full"]}
    assert scorecard.judge(full_only, {}, {}, "cpu", "toy") == ("-", "not run", "measured only under profile full")
    assert scorecard.judge(full_only, {}, {}, "full", "toy")[2] == "results/full/toy/variants.json does not exist yet"


@pytest.mark.parametrize("content, says", [
    ("{not json", "cannot be read"),
    (json.dumps(["a list"]), "not a result record"),
    (json.dumps({"part": "toy", "notebook": "measure", "profile": "full", "numbers": {"ratio": 60.0}}),
     "says profile 'full'"),
    (json.dumps({"part": "toy", "notebook": "measure", "profile": "smoke", "overrides": {"epochs": 9},
                 "numbers": {"ratio": 60.0}}), "overrides"),
])
def test_a_bad_result_file_marks_its_rows_and_the_page_still_renders(toy, tmp_path, content, says):
    write_text_atomic(tmp_path / "smoke" / "toy" / "measure.json", content)
    table = scorecard.scorecard("smoke")
    row = table[table.claim == "ratio is large"].iloc[0]
    assert row.verdict == "invalid" and says in row.why and "measure.json" in row.why
    assert "invalid" in scorecard.to_html(table)


def test_summary_and_status_table_count_the_verdicts(toy):
    toy("train", {"recon": 236.0, "active": 3})
    toy("measure", {"ratio": 60.0, "trend": -0.8, "diff": 0.05, "diff_ci": [-0.01, 0.09], "accuracy": 0.5})
    counts = scorecard.summary(scorecard.scorecard("smoke")).loc["toy"].to_dict()
    assert counts == {"holds": 1, "fails": 1, "inconclusive": 2, "not run": 0, "invalid": 0}
    status = scorecard.status_markdown("smoke")
    assert "| [toy](toy/overview) | 1 | 1 | 2 | 0 | 0 |" in status


def test_malformed_claims_files_are_errors(toy, tmp_path):
    bad = dict(TOY, claims=[dict(TOY["claims"][3], band="")])
    (tmp_path / "book" / "toy" / "claims.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match="no `band:` saying where it comes from"):
        scorecard.load_targets()
    bad = dict(TOY, claims=[dict(TOY["claims"][1], gates=["nope"])])
    (tmp_path / "book" / "toy" / "claims.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match="unknown gates"):
        scorecard.load_targets()


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


def test_the_real_claims_files_are_well_formed():
    targets = scorecard.load_targets()
    for part, doc in targets.items():
        ids = [c["id"] for c in doc["claims"]]
        assert len(ids) == len(set(ids)) >= 5, part



def _numbers_in(text: str) -> list[str]:
    return re.findall(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])", text)


def _in_document(number: str, document: str) -> bool:
    """Whether the document writes `number` (sign ignored; 0.99 as .99 or 0.990 counts)."""
    plain = number.lstrip("+-")
    variants = {plain} | ({plain[1:]} if plain.startswith("0.") else set())
    tail = "0*" if "." in plain else ""
    return any(re.search(rf"(?<![\d.]){re.escape(v)}{tail}(?![\d])", document) for v in variants)


def _arithmetic_holds(paper: str) -> bool:
    """"a op b = c" in a paper field: the right side is the left side, to its printed digits."""
    left, _, right = paper.partition("=")
    expression = re.sub(r"[^\d.+\-*/() ]", "", left)
    value = eval(expression, {"__builtins__": {}})  # only digits and operators remain
    target = float(_numbers_in(right)[0])
    digits = len(_numbers_in(right)[0].split(".")[1]) if "." in _numbers_in(right)[0] else 0
    return abs(value - target) <= 0.5 * 10 ** -digits + 1e-12


@pytest.mark.parametrize("part", list(scorecard.PARTS))
def test_every_paper_number_is_in_the_document(part):
    """Each number a claim quotes from its document is in the document's text; a number the
    book derives (`a / b = c`) is checked by recomputing it from the quoted ones; a claim with
    `derived:` (an aggregate of a table) names the recipe whose transcription a part test checks."""
    doc = yaml.safe_load(scorecard.claims_path(part).read_text())
    if seeds_dir() is None:
        pytest.skip("the documents (../shared/seeds) are not beside the repository or REPRO_DATA")
    text = (seeds_dir() / doc["document"].split(":")[0]).read_text()
    wrong = []
    for claim in doc["claims"]:
        if claim.get("derived"):  # says how the number comes from the document's tables; a part test checks them
            continue
        paper = str(claim["paper"])
        arithmetic = re.match(r"\s*[-+]?\d[\d.\s+\-*/()]*=\s*[-+]?\d", paper)
        quoted = paper.partition("=")[0] if arithmetic else paper
        if arithmetic and not _arithmetic_holds(paper):
            wrong.append(f"{claim['id']}: {paper!r} does not compute")
        wrong += [f"{claim['id']}: {n} ({paper!r}) is not in the document"
                  for n in _numbers_in(quoted) if not _in_document(n, text)]
    assert not wrong, "\n".join(wrong)


def _passing(check):
    (op, ref), = check.items()
    return {">": ref + 1, ">=": ref, "<": ref - 1, "<=": ref, "is": ref}.get(op, None) if op != "between" \
        else (ref[0] + ref[1]) / 2


def _failing(check):
    (op, ref), = check.items()
    return {">": ref - 1, ">=": ref - 1, "<": ref + 1, "<=": ref + 1, "is": not ref}.get(op, None) \
        if op != "between" else ref[1] + 1


@pytest.mark.parametrize("part", list(scorecard.PARTS))
def test_a_degenerate_model_makes_the_parts_claims_inconclusive(part, tmp_path, monkeypatch):
    """Every gated claim that would hold on healthy models is inconclusive when its models fail
    their gates (e.g. a collapsed VAE), and each part gates at least one claim."""
    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)
    doc = scorecard.load_targets()[part]
    gated = [c for c in doc["claims"] if c.get("gates")]
    assert gated, f"{part} declares no health gates on its claims"
    numbers: dict[str, dict] = {}
    for claim in doc["claims"]:
        numbers.setdefault(claim["notebook"], {})[claim["measure"]] = _passing(claim["check"])
        if claim.get("interval"):
            value = _passing(claim["check"])
            numbers[claim["notebook"]][claim["interval"]] = [value, value]
    for gate in doc["gates"].values():
        numbers.setdefault(gate["notebook"], {})[gate["measure"]] = _failing(gate["check"])
    for notebook, values in numbers.items():
        write_text_atomic(tmp_path / "smoke" / part / f"{notebook}.json", json.dumps(
            {"part": part, "notebook": notebook, "profile": "smoke", "overrides": {}, "numbers": values}))
    table = scorecard.scorecard("smoke")
    rows = table[(table.part == part) & table.claim.isin([c["claim"] for c in gated])]
    assert (rows.verdict == "inconclusive").all(), rows[["claim", "verdict", "why"]]
    assert rows.why.str.contains("gate .* failed").all()
