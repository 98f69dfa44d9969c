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
