"""The thesis's numbers as the book uses them: Tables 5.1-5.3 transcribed from document 003's
text, and every `derived` number of the part's claims recomputed from them."""
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from repro_lib.parts.adversarial_robustness import recipes as ar
from repro_lib.paths import repo_root, seeds_dir

DOCUMENT = (seeds_dir() or Path("/nonexistent")) / "003_fe9c6eaa5a20110f.txt"
CLAIMS = yaml.safe_load((repo_root() / "book" / "adversarial_robustness" / "claims.yaml").read_text())["claims"]
pytestmark = pytest.mark.skipif(not DOCUMENT.exists(), reason="the seeds folder is not beside the repository")


def _rows(label: str) -> list[list[float]]:
    """Every row of the document's marginal tables that starts with `label`, in order."""
    return [[float(v) for v in re.findall(r"([\d.]+)%", line)]
            for line in Path(DOCUMENT).read_text().splitlines() if line.startswith(label + "\t")]


def test_marginal_tables_are_transcribed_from_the_text():
    kinds = ["disentangled", "entangled", "entangled_wd"]  # Tables 5.1, 5.2, 5.3 in the text's order
    assert _rows("AS ignore-target") == [ar.PAPER_MARGINALS[k]["ignore"] for k in kinds]
    assert _rows("AS target") == [ar.PAPER_MARGINALS[k]["target"] for k in kinds]


def _mean(kind, which):
    return float(np.mean(ar.PAPER_MARGINALS[kind][which]))


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.get("derived")], ids=lambda c: c["id"])
def test_derived_paper_numbers_recompute(claim):
    quoted = float(re.search(r"[-+]?\d+\.\d+", claim["paper"]).group())
    measure = claim["measure"]
    if measure.startswith("as_"):
        _, which, kind = measure.split("_", 2)
        expected = _mean(kind, which)
    elif measure.startswith("diff_"):
        which, base = re.match(r"diff_(\w+?)_vs_(\w+)", measure).groups()
        expected = _mean("disentangled", which) - _mean(base, which)
    elif measure == "wd_minus_entangled_ignore":
        expected = _mean("entangled_wd", "ignore") - _mean("entangled", "ignore")
    else:
        pytest.fail(f"no recomputation for {measure}")
    assert round(expected, 1) == quoted, (claim["id"], expected)
    low_high = claim["check"].get("between")
    if low_high:  # the band is +-25% of the thesis's mean, as its `band:` says
        assert low_high == pytest.approx([0.75 * expected / 100, 1.25 * expected / 100], abs=1e-4)


def _grid_rows(table: str) -> tuple[list[list[float]], list[list[float]]]:
    """The rows of Table 7.x in the document's text: (AS ignore-target rows, AS target rows),
    each a list of the 9 percentages of a source digit, in the text's order. A table's lines
    run from its "Source" header to its caption; a row of bare percentages is AS
    ignore-target, a row of bracketed ones AS target."""
    lines = Path(DOCUMENT).read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith(f"Table {table}:"))
    start = max(i for i in range(end) if lines[i].startswith("Source"))
    while start > 0 and lines[start - 1].startswith("Source"):
        start -= 1
    ignore, target = [], []
    for line in lines[start:end]:
        bracketed = re.findall(r"\(([\d.]+)%\)", line)
        bare = re.findall(r"(?<![(\d.])([\d.]+)%(?!\))", line)
        if len(bracketed) == 9 and not bare:
            target.append([float(v) for v in bracketed])
        elif len(bare) == 9 and not bracketed:
            ignore.append([float(v) for v in bare])
    return ignore, target


@pytest.mark.parametrize("kind", ["disentangled", "entangled", "entangled_wd"])
def test_grid_tables_are_transcribed_from_the_text(kind):
    ignore, target = _grid_rows(ar.PAPER_TABLE[kind][1])
    assert len(ignore) == len(target) == 10
    for which, rows in (("ignore", ignore), ("target", target)):
        grid = ar.paper_grid(kind, which).to_numpy() * 100
        ours = [[round(v, 2) for v in row[~np.isnan(row)]] for row in grid]
        assert ours == rows, (kind, which)


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c["id"].startswith("rank_")], ids=lambda c: c["id"])
def test_rank_claims_quote_the_table_they_rank_against(claim):
    """A profile claim quotes its table: all ten per-source rates (Table 5.x), or the first and
    last of the 90 cells (Table 7.x), as the transcription the measure uses has them."""
    _, level, which, kind = claim["id"].split("_", 3)
    table = ar.PAPER_TABLE[kind][0 if level == "source" else 1]
    assert claim["paper"].startswith(f"Table {table}, ") and claim["where"].startswith(f"Table {table}")
    quoted = [float(v) for v in re.findall(r"([\d.]+)%", claim["paper"])]
    if level == "source":
        assert quoted == ar.PAPER_MARGINALS[kind][which]
    else:
        grid = ar.paper_grid(kind, which).to_numpy() * 100
        cells = grid[~np.eye(10, dtype=bool)]
        assert quoted == [round(cells[0], 2), round(cells[-1], 2)]
