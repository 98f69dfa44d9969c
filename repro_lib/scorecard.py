"""The scorecard: each claim of a document (book/<part>/claims.yaml) beside our measured
number (results/<profile>/<part>/<notebook>.json), with a verdict a reviewer can trust.

Verdicts: **holds**, **fails**, **inconclusive** (at this budget: a model the claim rests on
failed a health gate, or the interval over seeds straddles the threshold), plus **not run**
(no result file yet) and **invalid** (the result file cannot be trusted: it says why and which
file). Every row that is not held or failed says why.

A claims file has `claims` and, optionally, `gates`: health checks of the models the claims
rest on (each: id, what, notebook, measure, check). A claim lists the gates it needs
(`gates: [id, ...]`); with `interval: <measure>` (a [low, high] pair in the same result file,
e.g. a 95% t-interval over seeds) it is decided only when the whole interval clears the
check. A check is one comparison: `{">": x}`, `{">=": x}`, `{"<": x}`, `{"<=": x}`,
`{"between": [lo, hi]}` (then `band:` says where the band comes from) or `{"is": true|false}`.
A claim on a data set that may be absent names it (`requires_data: <registry name>`), so its
"not run" row says whether the data set is missing on this machine; a claim measured only
under some profiles says which (`only_under: [full]`).
"""
from __future__ import annotations

import html
import math
import operator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .book_parts import PARTS
from .paths import repo_root
from .results import load_results

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
REQUIRED = ("id", "claim", "where", "paper", "notebook", "measure", "check")
GATE_REQUIRED = ("id", "what", "notebook", "measure", "check")
VERDICTS = ("holds", "fails", "inconclusive", "not run", "invalid")


def claims_path(part: str) -> Path:
    """The claims file of a part: book/<part>/claims.yaml."""
    return repo_root() / "book" / part / "claims.yaml"


def load_targets() -> dict[str, dict[str, Any]]:
    """Every part's claims file (in the order of `book_parts.PARTS`), keyed by part; malformed
    claims or gates are errors naming the file."""
    parts = {}
    for part in PARTS:
        path = claims_path(part)
        doc = yaml.safe_load(path.read_text())
        if doc.get("part") != part:
            raise ValueError(f"{path}: says part {doc.get('part')!r}, expected {part!r}")
        gates = {}
        for gate in doc.get("gates", []) or []:
            missing = [k for k in GATE_REQUIRED if k not in gate]
            if missing:
                raise ValueError(f"{path}: gate {gate.get('id', '?')} lacks {missing}")
            evaluate(gate["check"], 0.0)
            gates[gate["id"]] = gate
        for claim in doc.get("claims", []):
            missing = [k for k in REQUIRED if k not in claim]
            if missing:
                raise ValueError(f"{path}: claim {claim.get('id', '?')} lacks {missing}")
            evaluate(claim["check"], 0.0)  # validates the check's form
            (op, _), = claim["check"].items()
            if op == "between" and not claim.get("band"):
                raise ValueError(f"{path}: claim {claim['id']} has a band but no `band:` saying where it "
                                 "comes from")
            if claim.get("interval") and op == "is":
                raise ValueError(f"{path}: claim {claim['id']}: an interval needs a numeric check")
            unknown = [g for g in claim.get("gates", []) if g not in gates]
            if unknown:
                raise ValueError(f"{path}: claim {claim['id']} names unknown gates {unknown}")
        doc["gates"] = gates
        parts[part] = doc
    return parts


def evaluate(check: dict[str, Any], value: Any) -> bool:
    """Whether `value` passes `check` (see the module docstring)."""
    if not isinstance(check, dict) or len(check) != 1:
        raise ValueError(f"a check is one comparison like {{'>=': 10}}, got {check!r}")
    (op, ref), = check.items()
    if op in _OPS:
        return bool(_OPS[op](value, ref))
    if op == "between":
        low, high = ref
        return bool(low <= value <= high)
    if op == "is":
        return bool(value) is bool(ref)
    raise ValueError(f"unknown check {op!r}; use one of {[*_OPS, 'between', 'is']}")


def decide_interval(check: dict[str, Any], low: float, high: float) -> str:
    """"holds" when the whole interval [low, high] passes `check`, "fails" when none of it
    does, else "inconclusive"."""
    if not low <= high:
        raise ValueError(f"an interval needs low <= high, got [{low}, {high}]")
    (op, ref), = check.items()
    if op == "between":
        a, b = ref
        if a <= low and high <= b:
            return "holds"
        return "fails" if high < a or low > b else "inconclusive"
    if op not in _OPS:
        raise ValueError(f"an interval cannot be decided by {op!r}")
    passes = _OPS[op]
    if passes(low, ref) and passes(high, ref):
        return "holds"
    return "fails" if not passes(low, ref) and not passes(high, ref) else "inconclusive"


def _describe_check(check: dict[str, Any]) -> str:
    (op, ref), = check.items()
    return f"{ref[0]} to {ref[1]}" if op == "between" else f"{op} {ref}"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{value[0]:.4g}, {value[1]:.4g}]"
    return str(value)


def _number(numbers: dict[str, Any], key: str, where: str) -> tuple[Any, str | None]:
    """(value, None), or (None, what is wrong with it)."""
    if key not in numbers:
        return None, f"{where} has no measure {key!r}"
    value = numbers[key]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, f"{where} gives {key!r} as NaN or null"
    return value, None


def _gate_failures(claim: dict[str, Any], gates: dict[str, dict], results: dict, profile: str,
                   part: str) -> list[str]:
    failed = []
    for gate_id in claim.get("gates", []):
        gate = gates[gate_id]
        record = results.get((part, gate["notebook"]))
        where = f"results/{profile}/{part}/{gate['notebook']}.json"
        if record is None or "problem" in record:
            failed.append(f"gate {gate_id} not measured ({where} {'missing' if record is None else 'invalid'})")
            continue
        value, wrong = _number(record["numbers"], gate["measure"], where)
        try:
            ok = wrong is None and evaluate(gate["check"], value)
        except TypeError:
            ok = False
        if not ok:
            failed.append(f"gate {gate_id} failed: {gate['what']} (ours {_format(value)}, "
                          f"needs {_describe_check(gate['check'])})")
    return failed


def data_present(name: str) -> bool:
    """Whether registered data set `name` is here (verified, never downloaded)."""
    from .data.imagenet import present

    return present(name)


def judge(claim: dict[str, Any], gates: dict[str, dict], results: dict, profile: str, part: str
          ) -> tuple[str, str, str]:
    """(our number as text, verdict, why) of one claim; see the module docstring."""
    record = results.get((part, claim["notebook"]))
    where = f"results/{profile}/{part}/{claim['notebook']}.json"
    if record is None and claim.get("only_under") and profile not in claim["only_under"]:
        return "-", "not run", f"measured only under profile {', '.join(claim['only_under'])}"
    if record is None:
        needed = claim.get("requires_data")
        if needed and not data_present(needed):
            return "-", "not run", f"the data set {needed!r} is not on this machine (README, Data)"
        return "-", "not run", f"{where} does not exist yet"
    if "problem" in record:
        return "-", "invalid", record["problem"]
    value, wrong = _number(record["numbers"], claim["measure"], where)
    failed = _gate_failures(claim, gates, results, profile, part)
    if failed and claim["measure"] in record["numbers"]:  # a model that failed its gate: whatever
        return ("-" if wrong else _format(value)), "inconclusive", "; ".join(failed)  # it measured (NaN too)
    if wrong:
        return "-", "invalid", wrong
    if not isinstance(value, (bool, int, float)):
        return _format(value), "invalid", f"{where} gives {claim['measure']!r} = {value!r}, not a number"
    ours = _format(value)
    if claim.get("interval"):
        bounds, wrong = _number(record["numbers"], claim["interval"], where)
        if wrong or not (isinstance(bounds, list) and len(bounds) == 2):
            return ours, "invalid", wrong or f"{where}: {claim['interval']!r} is not a [low, high] pair"
        low, high = bounds
        if low is None or high is None:
            return ours, "inconclusive", "no interval (a single seed, or NaN bounds)"
        verdict = decide_interval(claim["check"], low, high)
        why = "" if verdict != "inconclusive" else \
            f"the interval [{low:.4g}, {high:.4g}] straddles {_describe_check(claim['check'])}"
        return f"{ours} [{low:.4g}, {high:.4g}]", verdict, why
    return ours, "holds" if evaluate(claim["check"], value) else "fails", ""


def scorecard(profile: str) -> pd.DataFrame:
    """One row per claim: part, claim, where, paper, ours, test, verdict, why."""
    results = load_results(profile)
    rows = []
    for part, doc in load_targets().items():
        for claim in doc["claims"]:
            ours, verdict, why = judge(claim, doc["gates"], results, profile, part)
            band = f" ({claim['band']})" if claim.get("band") else ""
            rows.append({"part": part, "claim": claim["claim"], "where": claim["where"],
                         "paper": claim["paper"], "ours": ours,
                         "test": _describe_check(claim["check"]) + band, "verdict": verdict, "why": why})
    return pd.DataFrame(rows, columns=["part", "claim", "where", "paper", "ours", "test", "verdict", "why"])


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per part: how many claims hold, fail, are inconclusive, not run or invalid."""
    counts = pd.crosstab(table.part, table.verdict).reindex(columns=list(VERDICTS), fill_value=0)
    order = [p for p in PARTS if p in counts.index]
    return counts.loc[order]


def status_markdown(profile: str) -> str:
    """The intro's status table: per part, the claims held / failed / inconclusive at `profile`."""
    counts = summary(scorecard(profile))
    lines = [f"Verdicts at profile `{profile}` (see the [scorecard](scorecard)):", "",
             "| part | holds | fails | inconclusive | not run | invalid |", "| --- | --- | --- | --- | --- | --- |"]
    for part, row in counts.iterrows():
        lines.append(f"| [{part}]({part}/overview) | " + " | ".join(str(int(row[v])) for v in VERDICTS) + " |")
    return "\n".join(lines)


COLOURS = {"holds": "#d4edda", "fails": "#f8d7da", "inconclusive": "#fff3cd", "not run": "#eeeeee",
           "invalid": "#f5c6cb"}


def to_html(table: pd.DataFrame) -> str:
    """The scorecard as HTML: one table per part, the verdict coloured."""
    columns = [c for c in table.columns if c != "part"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    out = []
    for part, rows in table.groupby("part", sort=False):
        body = []
        for _, row in rows.iterrows():
            cells = "".join(
                f'<td style="background:{COLOURS[row["verdict"]]}">{html.escape(str(row[c]))}</td>'
                if c == "verdict" else f"<td>{html.escape(str(row[c]))}</td>"
                for c in columns
            )
            body.append(f"<tr>{cells}</tr>")
        out.append(f'<h3>{html.escape(part)}</h3><table class="scorecard"><thead><tr>{head}</tr>'
                   f'</thead><tbody>{"".join(body)}</tbody></table>')
    return "".join(out)
