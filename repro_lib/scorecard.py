"""The scorecard: each claim of a document (book/<part>/claims.yaml) beside our
measured number (results/<profile>/<part>/<notebook>.json) and whether it holds.

A claim's `check` is one comparison of our number: `{">": x}`, `{">=": x}`,
`{"<": x}`, `{"<=": x}`, `{"between": [lo, hi]}` or `{"is": true|false}`.
"""
from __future__ import annotations

import html
import operator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .parts import PARTS
from .paths import repo_root
from .results import load_results

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
REQUIRED = ("id", "claim", "where", "paper", "notebook", "measure", "check")


def claims_path(part: str) -> Path:
    """The claims file of a part: book/<part>/claims.yaml."""
    return repo_root() / "book" / part / "claims.yaml"


def load_targets() -> dict[str, dict[str, Any]]:
    """Every part's claims file (in the order of `parts.PARTS`), keyed by part; malformed
    claims are errors."""
    parts = {}
    for part in PARTS:
        path = claims_path(part)
        doc = yaml.safe_load(path.read_text())
        if doc.get("part") != part:
            raise ValueError(f"{path}: says part {doc.get('part')!r}, expected {part!r}")
        for claim in doc.get("claims", []):
            missing = [k for k in REQUIRED if k not in claim]
            if missing:
                raise ValueError(f"{path.name}: claim {claim.get('id', '?')} lacks {missing}")
            evaluate(claim["check"], 0.0)  # validates the check's form
        parts[doc["part"]] = doc
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


def _describe_check(check: dict[str, Any]) -> str:
    (op, ref), = check.items()
    return f"{ref[0]} to {ref[1]}" if op == "between" else f"{op} {ref}"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def scorecard(profile: str) -> pd.DataFrame:
    """One row per claim: part, claim, where, paper, ours, test, holds ("yes"/"no"/"not run")."""
    results = load_results(profile)
    rows = []
    for part, doc in load_targets().items():
        for claim in doc["claims"]:
            ours, holds = _judge(claim, results.get((part, claim["notebook"])), profile, part)
            rows.append({"part": part, "claim": claim["claim"], "where": claim["where"],
                         "paper": claim["paper"], "ours": ours,
                         "test": _describe_check(claim["check"]), "holds": holds})
    return pd.DataFrame(rows)


def _judge(claim: dict[str, Any], record: dict[str, Any] | None, profile: str, part: str
           ) -> tuple[str, str]:
    """(our number as text, verdict): "yes", "no", "not run", or "invalid: <what is wrong>"."""
    if record is None:
        return "-", "not run"
    if "problem" in record:
        return "-", f"invalid: {record['problem']}"
    where = f"results/{profile}/{part}/{claim['notebook']}.json"
    measure = claim["measure"]
    if measure not in record["numbers"]:
        return "-", f"invalid: {where} has no measure {measure!r}"
    value = record["numbers"][measure]
    if value is None:
        return "-", f"invalid: {where} gives {measure!r} as NaN or null"
    try:
        return _format(value), "yes" if evaluate(claim["check"], value) else "no"
    except TypeError:
        return _format(value), f"invalid: {where} gives {measure!r} = {value!r}, not a number"


def to_html(table: pd.DataFrame) -> str:
    """The scorecard as HTML: one table per part, the verdict coloured."""
    colours = {"yes": "#d4edda", "no": "#f8d7da", "not run": "#eeeeee", "invalid": "#fff3cd"}
    columns = [c for c in table.columns if c != "part"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    out = []
    for part, rows in table.groupby("part", sort=False):
        body = []
        for _, row in rows.iterrows():
            cells = "".join(
                f'<td style="background:{colours[row["holds"].split(":")[0]]}">{html.escape(str(row[c]))}</td>'
                if c == "holds" else f"<td>{html.escape(str(row[c]))}</td>"
                for c in columns
            )
            body.append(f"<tr>{cells}</tr>")
        out.append(f'<h3>{html.escape(part)}</h3><table class="scorecard"><thead><tr>{head}</tr>'
                   f'</thead><tbody>{"".join(body)}</tbody></table>')
    return "".join(out)
