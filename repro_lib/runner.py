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
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from jupyter_client.manager import AsyncKernelManager

from .book_parts import PARTS, check_part
from .engine import EngineError
from .paths import absolute_repro_paths, remove_stale_temporaries, repo_root, shown_path, temporary_beside
from .profiles import PROFILE_NAMES, check_profile, settings
from .profiles import knobs as profile_knobs
from .threads import children_threads

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


def executed_dir(profile: str, custom: bool = False) -> Path:
    """Where executed copies go: `_build/executed/<profile>/`, or, for a run with `-p`
    overrides, `_build/executed/custom/<profile>/` (never shown as the profile's)."""
    base = repo_root() / "_build" / "executed"
    return base / "custom" / profile if custom else base / profile


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell, the error and the copy."""


class FailedPages(RuntimeError):
    """Executed copies that hold an error or cells that did not run."""


def _select(part: str | None, notebook: str | None) -> list[Path]:
    if notebook and part:
        chosen = _select(None, notebook)[0]
        if chosen.parts[:2] != ("notebooks", part):
            raise ValueError(f"notebook {notebook} is not in part {part!r}; drop --part or pick one of: "
                             + ", ".join(map(str, notebooks_of(part))))
        return [chosen]
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

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client sends SIGINT before every shutdown request; the kernel of a finished
        # notebook is idle, and the signal only logs "KeyboardInterrupt caught in kernel".
        if not self.shutting_down:
            await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel


def _group_label(nb: Path) -> str:
    return nb.parts[1] if nb.parts[0] == "notebooks" else "book"


def execute(profile: str, part: str | None = None, notebook: str | None = None,
            params: dict[str, Any] | None = None, scorecard: bool = True) -> list[Path]:
    """Run the chosen notebooks (then the scorecard page) and return the executed copies.
    Prints, per notebook, its place in its part and the time it and the part took."""
    jobs = plan(profile, part, notebook, params)
    if scorecard and notebook is None:
        jobs.append((SCORECARD, {"profile": profile}))
    absolute_repro_paths()  # before any kernel starts in a notebook's folder
    root, out_dir = repo_root(), executed_dir(profile, custom=bool(params))
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
        with children_threads(1) as chosen:
            print(f"{place} {nb.stem} ({chosen.threads} thread{'s' * (chosen.threads > 1)}) ...", flush=True)
            execute_one(root / nb, target, parameters)
        now = time.perf_counter()
        print(f"{place} {nb.stem} done in {now - start:.0f} s ({group}: {now - group_started[group]:.0f} s so far)",
              flush=True)
        done.append(target)
    return done


def execute_one(source: Path, target: Path, parameters: dict[str, Any]) -> None:
    """Execute `source` into `target` through a temporary copy renamed on success, so a failed
    or killed run never replaces a good copy (and two runs of one notebook never read each
    other's half-written file). A failure keeps its copy as `<stem>.failed.ipynb` and raises
    `NotebookFailed` with one short message."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    remove_stale_temporaries(target.parent)
    tmp = Path(temporary_beside(target.with_suffix(".ipynb")))
    tmp_nb = tmp.with_name(tmp.name.removesuffix(".tmp") + ".ipynb")
    os.replace(tmp, tmp_nb)
    failed = target.with_name(f"{target.stem}.failed.ipynb")
    try:
        papermill.execute_notebook(
            str(source), str(tmp_nb), parameters=parameters, cwd=str(source.parent),
            kernel_name="python3", progress_bar=False, log_output=False,
            kernel_manager_class=IPCKernelManager,
        )
    except PapermillExecutionError as err:
        os.replace(tmp_nb, failed)
        last = (str(err.evalue).strip().splitlines() or [""])[-1]
        raise NotebookFailed(
            f"{shown_path(source)} failed in cell [{err.exec_count}]: {err.ename}: {last}\n"
            f"the executed copy with the whole traceback: {shown_path(failed)}") from None
    except BaseException:
        tmp_nb.unlink(missing_ok=True)
        raise
    _tidy_executed_copy(tmp_nb)
    os.replace(tmp_nb, target)
    failed.unlink(missing_ok=True)


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


def page_problems(path: Path) -> list[str]:
    """What makes an executed copy unfit to publish: cells whose output is an error, and code
    cells that never ran (a run stopped midway). Empty when the page is whole."""
    import nbformat

    problems = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if errors:
            problems.append(f"cell {i} raised {errors[0].get('ename')}: {errors[0].get('evalue')}")
        elif cell.get("execution_count") is None:
            problems.append(f"cell {i} did not run")
    return problems


STATUS_MARKER = "<!-- status:"


def _write_status(intro: Path, profile: str) -> None:
    """Replace the intro's status marker line with the scorecard's verdict counts per part."""
    from .scorecard import status_markdown

    lines = intro.read_text().splitlines()
    lines = [status_markdown(profile) if line.startswith(STATUS_MARKER) else line for line in lines]
    intro.write_text("\n".join(lines) + "\n")


def _mark_failed(path: Path, problems: list[str]) -> None:
    """Put a warning at the top of a page built from a failed run."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    listed = "\n".join(f"- {p}" for p in problems[:10])
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(
        f"```{{warning}}\nThis page comes from a run that did not finish cleanly; its numbers "
        f"cannot be trusted:\n\n{listed}\n```"))
    nbformat.write(nb, path)


def build_book(profile: str, allow_failed: bool = False) -> Path:
    """Assemble book sources (config, toc, book/, _static/, _extra/) with the executed
    notebooks in _build/book_src and run jupyter-book on it; returns _build/html.

    Refuses (`FailedPages`, naming each) executed copies with an error or a cell that did not
    run, unless `allow_failed`, when those pages say so at their top."""
    check_profile(profile)
    root, executed = repo_root(), executed_dir(profile)
    missing = [str(nb) for nb in notebooks_of() + [SCORECARD] if not (executed / nb).exists()]
    if missing:
        raise FileNotFoundError(
            f"not yet executed under {profile!r}: {', '.join(missing)}; "
            f"run `python -m repro_lib run --profile {profile}` first")
    broken = {nb: page_problems(executed / nb) for nb in notebooks_of() + [SCORECARD]}
    broken = {nb: problems for nb, problems in broken.items() if problems}
    if broken and not allow_failed:
        raise FailedPages("these executed notebooks did not run cleanly (rerun them, or build anyway "
                          "with --allow-failed):\n" + "\n".join(
                              f"  {executed / nb}: {'; '.join(p[:3])}" for nb, p in broken.items()))
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
        if nb in broken:
            _mark_failed(stage / nb, broken[nb])
    _write_status(stage / "book" / "intro.md", profile)
    subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
                    "build", str(stage), "--path-output", str(root)], check=True)
    return root / "_build" / "html"


def _parse_value(text: str) -> Any:
    """A `-p` value as YAML, except that a number YAML 1.1 reads as a string (1e-2) is a float."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return [_parse_value(str(v)) if isinstance(v, str) else v for v in value]
    return value


def _parse_params(pairs: list[list[str]]) -> dict[str, Any]:
    return {key: _parse_value(value) for key, value in pairs or []}


def run_with_engine(profile: str, part: str | None, notebook: str | None, params: dict[str, Any],
                    address: str | None, workers: int | None) -> int:
    """`run --engine ray`: the training plans of the chosen parts on Ray, then their notebooks
    (one Ray task per part, parts in parallel), then the scorecard here. 1 if anything failed."""
    from . import engine

    if notebook or params:
        raise ValueError("--engine runs whole parts under a profile; drop --notebook and -p")
    check_profile(profile)
    chosen = [part] if part else list(PARTS)
    for p in chosen:
        check_part(p)
    absolute_repro_paths()
    report = engine.train_parts(chosen, profile, address=address, workers=workers)
    print(f"training plan: {report.summary()}", flush=True)
    failures = engine.run_notebooks(profile, chosen, address=address)
    for p, error in failures.items():
        print(f"error: part {p}: {error}", file=sys.stderr)
    if not part:
        execute(profile, notebook=str(SCORECARD))
    return 1 if (report.failed or failures) else 0


def show_plan(profile: str, part: str | None, check: bool) -> int:
    """`plan`: the jobs of each part's plan (cached or not), or with `check` one step of each."""
    from . import plans
    from .cache import path_of as cache_path

    check_profile(profile)
    chosen = [part] if part else plans.parts_with_plans()
    if part:
        check_part(part)
    if check:
        rows = plans.check(chosen, profile)
        for row in rows:
            status = "ok" if not row.problem else f"FAILED: {row.problem}"
            print(f"{row.job:50s} {row.parameters:>11,d} parameters  {row.seconds:6.1f} s  {status}")
        bad = [row for row in rows if row.problem]
        print(f"{len(rows) - len(bad)} of {len(rows)} jobs can run under {profile!r}")
        return 1 if bad else 0
    for p in chosen:
        for job in plans.part_plan(p, profile):
            key = job.key()  # hashes the built model: once per job
            print(f"{job.label():50s} {'cached' if cache_path(key).exists() else 'to train'}  {key}")
    return 0


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
    run.add_argument("--engine", choices=["ray"],
                     help="train the parts' training plans as Ray tasks first, then run each part's "
                          "notebooks as a Ray task (default: everything in this process)")
    run.add_argument("--address", help="a running Ray cluster's address (default: start a local Ray)")
    run.add_argument("--workers", type=int, help="parallel training tasks on a local Ray (default: free cores)")
    plan = sub.add_parser("plan", help="list (or --check) the models a profile's notebooks train")
    plan.add_argument("--profile", required=True, help=f"one of {', '.join(PROFILE_NAMES)}")
    plan.add_argument("--part", help=f"one of {', '.join(PARTS)} (default: all with a plan)")
    plan.add_argument("--check", action="store_true",
                      help="build every model and take one training step on 2 rows, on the CPU")
    book = sub.add_parser("book", help="build the HTML book from executed notebooks")
    book.add_argument("--profile", required=True, help=f"one of {', '.join(PROFILE_NAMES)}")
    book.add_argument("--allow-failed", action="store_true",
                      help="build even with failed pages (each says so at its top)")
    sub.add_parser("list", help="list parts, notebooks and their parameters")
    args = parser.parse_args(argv)
    try:
        if args.command == "run" and args.engine:
            return run_with_engine(args.profile, args.part, args.notebook, _parse_params(args.p),
                                   args.address, args.workers)
        if args.command == "run":
            execute(args.profile, args.part, args.notebook, _parse_params(args.p))
        elif args.command == "plan":
            return show_plan(args.profile, args.part, args.check)
        elif args.command == "book":
            print(build_book(args.profile, args.allow_failed))
        else:
            for nb in notebooks_of():
                print(f"{nb}\n    parameters: {', '.join(parameters_of(nb))}")
    except (ValueError, FileNotFoundError, FailedPages) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (NotebookFailed, EngineError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"error: jupyter-book failed (exit {err.returncode}); its messages are above", file=sys.stderr)
        return 1
    return 0
