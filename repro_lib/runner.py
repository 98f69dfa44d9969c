"""Execute the book's notebooks headless with papermill and build the HTML book.

    python -m repro_lib run --profile cpu [--part NAME] [--notebook PATH] [-p key value ...]
    python -m repro_lib book --profile cpu      # build _build/html from executed notebooks
    python -m repro_lib list                    # parts, notebooks and their parameters

Executed copies go to `_build/executed/<profile>/` (same relative paths as the
sources); the book is built from there with execution off. Every argument is
checked before any notebook runs: an unknown profile, part, notebook or
parameter stops at once with the allowed values.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .paths import repo_root
from .profiles import PARTS, PROFILE_NAMES, check_part, check_profile, settings
from .profiles import knobs as profile_knobs

SCORECARD = Path("book/scorecard.ipynb")


def _toc_files() -> list[str]:
    """Every `file:` entry of _toc.yml, in reading order (without suffix)."""
    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield str(node["file"])
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
    return list(walk(yaml.safe_load((repo_root() / "_toc.yml").read_text())))


def notebooks_of(part: str | None = None) -> list[Path]:
    """Notebook paths (relative to the repo root) of one part or of all parts, in the
    book's reading order (_toc.yml); notebooks missing from the toc come last, by name."""
    root = repo_root()
    order = {name: i for i, name in enumerate(_toc_files())}
    parts = [part] if part else list(PARTS)
    found = []
    for name in parts:
        check_part(name)
        paths = [p.relative_to(root) for p in (root / "notebooks" / name).glob("*.ipynb")]
        found += sorted(paths, key=lambda p: (order.get(str(p.with_suffix("")), len(order)), p.name))
    return found


def parameters_of(notebook: Path) -> dict[str, Any]:
    """The names and default values of a notebook's `parameters` cell."""
    import papermill

    found = papermill.inspect_notebook(str(repo_root() / notebook))
    return {name: info["default"] for name, info in found.items()}


def executed_dir(profile: str) -> Path:
    return repo_root() / "_build" / "executed" / profile


def _select(part: str | None, notebook: str | None) -> list[Path]:
    if notebook:
        path = Path(notebook)
        path = (Path.cwd() / path).resolve() if not path.is_absolute() else path
        try:
            rel = path.relative_to(repo_root())
        except ValueError:
            rel = path
        every = notebooks_of() + [SCORECARD]
        if rel not in every:
            raise ValueError(
                f"unknown notebook {notebook!r}; known: " + ", ".join(map(str, every)))
        return [rel]
    return notebooks_of(part)


def plan(profile: str, part: str | None = None, notebook: str | None = None,
         params: dict[str, Any] | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Validate everything and return (notebook, parameters) pairs to execute."""
    check_profile(profile)
    if part:
        check_part(part)
    params = dict(params or {})
    chosen = _select(part, notebook)
    declared = {nb: parameters_of(nb) for nb in chosen}
    known = sorted({name for names in declared.values() for name in names} - {"profile"})
    for key in params:
        if key == "profile":
            raise ValueError("set the profile with --profile, not -p profile")
        if key not in known:
            raise ValueError(f"unknown parameter {key!r}; these notebooks take: {', '.join(known) or 'none'}")
    for nb in chosen:  # type/range checks of the profile knobs, before any work
        nb_part = nb.parts[1] if nb.parts[0] == "notebooks" else None
        knobs = {k: v for k, v in params.items() if k in declared[nb]}
        if nb_part:
            part_knobs = profile_knobs(nb_part, profile)
            settings(nb_part, profile, **{k: v for k, v in knobs.items() if k in part_knobs})
    return [(nb, {"profile": profile, **{k: v for k, v in params.items() if k in declared[nb]}})
            for nb in chosen]


def execute(profile: str, part: str | None = None, notebook: str | None = None,
            params: dict[str, Any] | None = None, scorecard: bool = True) -> list[Path]:
    """Run the chosen notebooks (then the scorecard page) and return the executed copies."""
    import papermill

    jobs = plan(profile, part, notebook, params)
    if scorecard and notebook is None:
        jobs.append((SCORECARD, {"profile": profile}))
    root, out_dir = repo_root(), executed_dir(profile)
    done = []
    for nb, parameters in jobs:
        target = out_dir / nb
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        print(f"[repro_lib] {profile}: {nb} ...", flush=True)
        papermill.execute_notebook(
            str(root / nb), str(target), parameters=parameters, cwd=str((root / nb).parent),
            kernel_name="python3", progress_bar=False, log_output=False,
        )
        _hide_default_parameters(target)
        print(f"[repro_lib] {profile}: {nb} done in {time.perf_counter() - start:.0f} s", flush=True)
        done.append(target)
    return done


def _hide_default_parameters(path: Path) -> None:
    """Tag the notebook's own `parameters` cell `remove-cell` in its executed copy: the
    book then shows only papermill's injected cell, i.e. the values actually used."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def build_book(profile: str) -> Path:
    """Assemble book sources (config, toc, book/, _static/, _extra/) with the executed
    notebooks in _build/book_src and run jupyter-book on it; returns _build/html."""
    check_profile(profile)
    root, executed = repo_root(), executed_dir(profile)
    missing = [str(nb) for nb in notebooks_of() + [SCORECARD] if not (executed / nb).exists()]
    if missing:
        raise FileNotFoundError(
            f"not yet executed under {profile!r}: {', '.join(missing)}; "
            f"run `python -m repro_lib run --profile {profile}` first")
    stage = root / "_build" / "book_src"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    for folder in ("book", "_static", "_extra"):
        if (root / folder).exists():
            shutil.copytree(root / folder, stage / folder)
    for nb in notebooks_of() + [SCORECARD]:
        (stage / nb).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed / nb, stage / nb)
    subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
                    "build", str(stage), "--path-output", str(root)], check=True)
    return root / "_build" / "html"


def _parse_params(pairs: list[list[str]]) -> dict[str, Any]:
    return {key: yaml.safe_load(value) for key, value in pairs or []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repro_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks with papermill")
    run.add_argument("--profile", required=True, help=f"one of {', '.join(PROFILE_NAMES)}")
    run.add_argument("--part", help=f"one of {', '.join(PARTS)} (default: all)")
    run.add_argument("--notebook", help="one notebook path, e.g. notebooks/attribution_priors/3_method.ipynb")
    run.add_argument("-p", nargs=2, action="append", metavar=("KEY", "VALUE"),
                     help="override a notebook parameter (value parsed as YAML)")
    book = sub.add_parser("book", help="build the HTML book from executed notebooks")
    book.add_argument("--profile", required=True, help=f"one of {', '.join(PROFILE_NAMES)}")
    sub.add_parser("list", help="list parts, notebooks and their parameters")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            execute(args.profile, args.part, args.notebook, _parse_params(args.p))
        elif args.command == "book":
            print(build_book(args.profile))
        else:
            for nb in notebooks_of():
                print(f"{nb}\n    parameters: {', '.join(parameters_of(nb))}")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
