"""Per-notebook result files: `results/<profile>/<part>/<notebook>.json`.

Each holds the measured numbers plus what is needed to trust them: profile,
device, seed, wall time, git revision and library versions. Written atomically.
"""
from __future__ import annotations

import json
import math
import platform
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .device import get_device
from .paths import repo_root, shown_path, write_text_atomic
from .profiles import check_part, check_profile

_LIBRARIES = ("torch", "numpy", "scipy", "scikit-learn", "captum", "papermill", "repro_lib")


def results_dir(profile: str, custom: bool = False) -> Path:
    """`results/<profile>/`, or `results/custom/<profile>/` for runs whose knobs differ from
    the profile's (kept apart: the scorecard reads only the profile's own folder)."""
    base = repo_root() / "results"
    return base / "custom" / profile if custom else base / profile


def result_path(profile: str, part: str, notebook: str, custom: bool = False) -> Path:
    return results_dir(profile, custom) / part / f"{notebook}.json"


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo_root(),
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo_root(), capture_output=True, text=True, timeout=10)
        rev = out.stdout.strip() or "unknown"
        return rev + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _versions() -> dict[str, str]:
    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    found["python"] = platform.python_version()
    return found


def _plain(value: Any) -> Any:
    """Numbers, strings, lists and dicts only; NaN becomes None (valid JSON)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Recorder:
    """Started at the top of a notebook (by `chapter`); `save(numbers)` at the end writes its
    result file. `overrides`: the knobs this run set to other values than the profile's."""

    def __init__(self, part: str, notebook: str, profile: str, seed: int = 0,
                 overrides: dict[str, Any] | None = None):
        check_part(part)
        check_profile(profile)
        self.part, self.notebook, self.profile, self.seed = part, notebook, profile, seed
        self.overrides = dict(overrides or {})
        self.started = time.perf_counter()

    def save(self, numbers: dict[str, Any]) -> None:
        """Write the result file atomically and say where (relative to the repository)."""
        record = {
            "part": self.part, "notebook": self.notebook, "profile": self.profile,
            "seed": self.seed, "overrides": _plain(self.overrides), "device": str(get_device()),
            "wall_seconds": round(time.perf_counter() - self.started, 1),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_revision": _git_revision(), "versions": _versions(),
            "numbers": _plain(numbers),
        }
        path = result_path(self.profile, self.part, self.notebook, custom=bool(self.overrides))
        write_text_atomic(path, json.dumps(record, indent=2, allow_nan=False) + "\n")
        print(f"{len(record['numbers'])} numbers written to {path.relative_to(repo_root())}"
              + (f" (overrides {record['overrides']}: kept apart from the {self.profile!r} results, "
                 "not scored)" if self.overrides else ""))


def load_results(profile: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The result records of a profile's own runs, keyed by (part, notebook) from the file's
    place. A file that cannot be trusted (unreadable, not a record, another profile's, run with
    overrides, under another name) still has an entry, with `problem` saying what is wrong."""
    found = {}
    for path in sorted(results_dir(profile).glob("*/*.json")):
        part, notebook = path.parent.name, path.stem
        where = shown_path(path)
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            found[(part, notebook)] = {"problem": f"{where} cannot be read ({err})"}
            continue
        problem = _record_problem(record, profile, part, notebook)
        found[(part, notebook)] = ({**record, "problem": f"{where}: {problem}"} if problem and
                                   isinstance(record, dict) else
                                   {"problem": f"{where}: {problem}"} if problem else record)
    return found


def _record_problem(record: Any, profile: str, part: str, notebook: str) -> str | None:
    if not isinstance(record, dict) or not isinstance(record.get("numbers"), dict):
        return "not a result record (no 'numbers' table)"
    if record.get("profile") != profile:
        return f"says profile {record.get('profile')!r}, but lies under results/{profile}/"
    if (record.get("part"), record.get("notebook")) != (part, notebook):
        return f"says it is {record.get('part')}/{record.get('notebook')}"
    if record.get("overrides"):
        return f"was run with overrides {record['overrides']}, not the profile's settings"
    return None
