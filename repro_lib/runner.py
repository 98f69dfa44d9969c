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
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from jupyter_client.manager import AsyncKernelManager

from .paths import repo_root
from .parts import PARTS, check_part
from .profiles import PROFILE_NAMES, check_profile, settings
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


class IPCKernelManager(AsyncKernelManager):
    """Kernels talk to the runner over Unix sockets in a private temporary folder, not over
    TCP on localhost (which ipykernel warns about on every start, rightly: TCP ports are open
    to every local user)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._ipc_dir = tempfile.mkdtemp(prefix="repro-kernel-")
        self.transport = "ipc"
        self.ip = str(Path(self._ipc_dir) / "kernel")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def _group_label(nb: Path) -> str:
    return nb.parts[1] if nb.parts[0] == "notebooks" else "book"


def execute(profile: str, part: str | None = None, notebook: str | None = None,
            params: dict[str, Any] | None = None, scorecard: bool = True) -> list[Path]:
    """Run the chosen notebooks (then the scorecard page) and return the executed copies.
    Prints, per notebook, its place in its part and the time it and the part took."""
    import papermill

    jobs = plan(profile, part, notebook, params)
    if scorecard and notebook is None:
        jobs.append((SCORECARD, {"profile": profile}))
    root, out_dir = repo_root(), executed_dir(profile)
    per_group: dict[str, int] = {}
    for nb, _ in jobs:
        per_group[_group_label(nb)] = per_group.get(_group_label(nb), 0) + 1
    group_started: dict[str, float] = {}
    seen: dict[str, int] = {}
    done = []
    for nb, parameters in jobs:
        group = _group_label(nb)
        seen[group] = seen.get(group, 0) + 1
        group_started.setdefault(group, time.perf_counter())
        target = out_dir / nb
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        place = f"[{profile} {group} {seen[group]}/{per_group[group]}]"
        print(f"{place} {nb.stem} ...", flush=True)
        papermill.execute_notebook(
            str(root / nb), str(target), parameters=parameters, cwd=str((root / nb).parent),
            kernel_name="python3", progress_bar=False, log_output=False,
            kernel_manager_class=IPCKernelManager,
        )
        _tidy_executed_copy(target)
        now = time.perf_counter()
        print(f"{place} {nb.stem} done in {now - start:.0f} s ({group}: {now - group_started[group]:.0f} s so far)",
              flush=True)
        done.append(target)
    return done


def _tidy_executed_copy(path: Path) -> None:
    """What the book shows of an executed copy:
    - its own `parameters` cell is tagged `remove-cell` (the book shows papermill's injected
      cell, i.e. the values actually used);
    - outputs that show a widget closed during the run (a finished tqdm bar) are dropped:
      their state is gone, so the static page would show an empty box."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    live = set(state.get("state", {}))
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            cell.setdefault("metadata", {})["tags"] = [*tags, "remove-cell"]
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.outputs if not _closed_widget(out, live)]
    nbformat.write(nb, path)


def _closed_widget(output: dict[str, Any], live: set[str]) -> bool:
    view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
    return view is not None and view.get("model_id") not in live


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
