"""Cell builders shared by the notebook generators (tools/make_*_notebooks.py).

Each generator keeps the cell texts of one part; this module makes cells and writes
the notebook, so the boilerplate (parameters cell, kernelspec) exists once.
"""
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]


def md(text: str):
    return nbf.v4.new_markdown_cell(text.strip())


def code(text: str, tags=()):
    cell = nbf.v4.new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def params(knobs):
    """The papermill `parameters` cell: the profile plus knobs left at None."""
    lines = ['profile = "cpu"  # smoke | cpu | full: sizes come from repro_lib.profiles',
             "# Knobs left at None take the profile's value."]
    lines += [f"{k} = None" for k in knobs]
    return code("\n".join(lines), tags=["parameters"])


def write(part: str, name: str, cells) -> Path:
    """Write notebooks/<part>/<name>.ipynb with the python3 kernelspec. Cell ids are
    the cell's position, so regenerating an unchanged notebook changes nothing."""
    nb = nbf.v4.new_notebook()
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path = ROOT / "notebooks" / part / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbf.write(nb, path)
    return path
