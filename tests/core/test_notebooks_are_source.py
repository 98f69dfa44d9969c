"""The committed notebooks are the book's source: clean, parameterised, set up by one call,
with no function of their own (functions live in the part's package, where tests reach them),
and the whole tree passes the one linter."""
import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro_lib import runner
from repro_lib.book_parts import PARTS
from repro_lib.paths import repo_root
from repro_lib.runner import SCORECARD, notebooks_of

ROOT = repo_root()
NOTEBOOKS = [*notebooks_of(), SCORECARD]


def _cells(nb_path):
    return json.loads((ROOT / nb_path).read_text())["cells"]


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _python(source: str) -> str:
    """A cell's source with IPython magics and shell escapes blanked out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=str)
def test_committed_without_outputs(nb):
    for i, cell in enumerate(_cells(nb)):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{nb} cell {i} holds outputs: clear them before committing (Jupyter: Edit > Clear Outputs)"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=str)
def test_has_one_parameters_cell_with_the_profile(nb):
    tagged = [c for c in _cells(nb) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{nb}: {len(tagged)} cells tagged 'parameters' (papermill needs exactly one)"
    assert re.search(r'^profile = "(smoke|cpu|full)"', _source(tagged[0]), re.M), \
        f"{nb}: the parameters cell must set profile"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=str)
def test_defines_no_function_or_class(nb):
    for i, cell in enumerate(_cells(nb)):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(_python(_source(cell)), filename=f"{nb} cell {i}")
        defined = [node.name for node in ast.walk(tree)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defined, f"{nb} cell {i} defines {defined}: move them to the part's recipes and test them"


@pytest.mark.parametrize("nb", notebooks_of(), ids=str)
def test_chapter_opens_with_one_hidden_setup_call(nb):
    cells = _cells(nb)
    first = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    setup = next(c for c in cells[first + 1:] if c["cell_type"] == "code")
    part, name = nb.parts[1], nb.stem
    assert re.search(rf'repro_lib\.chapter\(\s*"{part}",\s*"{name}",\s*profile\b', _source(setup)), \
        f"{nb}: the cell after the parameters must call repro_lib.chapter({part!r}, {name!r}, profile, ...)"
    assert "hide-input" in setup.get("metadata", {}).get("tags", []), f"{nb}: tag the set-up cell hide-input"


def test_every_part_has_its_notebooks_package_and_book_folder():
    for part in PARTS:
        assert (ROOT / "notebooks" / part).is_dir() and notebooks_of(part), part
        assert (ROOT / "repro_lib" / "parts" / part / "recipes.py").is_file(), part
        for name in ("overview.md", "claims.yaml"):
            assert (ROOT / "book" / part / name).is_file(), f"book/{part}/{name}"
    found = {p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert found == set(PARTS), f"notebooks/ folders {sorted(found)} differ from book_parts.PARTS {PARTS}"
    toc = set(runner._toc_files())
    for part in PARTS:
        wanted = {f"book/{part}/overview"} | {str(nb.with_suffix("")) for nb in notebooks_of(part)}
        assert wanted <= toc, f"_toc.yml lacks {sorted(wanted - toc)}"


def test_core_imports_no_part():
    """Core modules may reach a part only through `repro_lib.parts.package/recipes`."""
    offenders = []
    for path in (ROOT / "repro_lib").rglob("*.py"):
        rel = path.relative_to(ROOT / "repro_lib")
        if rel.parts[0] == "parts":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"]
                names += [f"{names[0]}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if re.search(r"(^|\.)parts\.\w+", name) and not re.search(r"parts\.(PARTS|check_part)$", name):
                    offenders.append(f"{rel}: {name}")
    assert not offenders, offenders


def test_the_tree_passes_ruff():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    done = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

