"""Where the repository is, and atomic file writes."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def repo_root() -> Path:
    """The repository root: `$REPRO_ROOT`, else the nearest parent of the
    working directory (or of this package) holding `_config.yml`."""
    env = os.environ.get("REPRO_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "_config.yml").exists() and (folder / "repro_lib").is_dir():
                return folder
    raise RuntimeError(
        "cannot find the repository root (a folder with _config.yml and repro_lib/); "
        "run from inside the repository or set REPRO_ROOT"
    )


# The settings that name folders; a relative one means "from where the user ran the command".
PATH_SETTINGS = ("REPRO_DATA", "REPRO_MODEL_CACHE", "REPRO_DATA_CACHE", "REPRO_CACHE_HOME", "REPRO_ROOT")


def absolute_repro_paths() -> dict[str, str]:
    """Make every relative `REPRO_*` folder setting absolute against the current directory,
    in this process's environment (which kernels inherit: they start in a notebook's folder,
    where a relative path would mean something else). Returns what was changed."""
    changed = {}
    for name in PATH_SETTINGS:
        value = os.environ.get(name)
        if value and not Path(value).expanduser().is_absolute():
            os.environ[name] = changed[name] = str(Path(value).expanduser().resolve())
    return changed


def seeds_dir() -> Path | None:
    """The documents' folder: `../shared/seeds` beside the repository, else `seeds/` beside
    `$REPRO_DATA` (the shared data folder); None when neither exists."""
    candidates = [repo_root().parent / "shared" / "seeds"]
    if os.environ.get("REPRO_DATA"):
        candidates.append(Path(os.environ["REPRO_DATA"]).expanduser().resolve().parent / "seeds")
    return next((c for c in candidates if c.is_dir()), None)


def shown_path(path: Path) -> str:
    """A path as a user reads it: relative to the repository when inside it."""
    try:
        return str(Path(path).relative_to(repo_root()))
    except ValueError:
        return str(path)


def cache_folder(name: str, env_var: str, create: bool = True) -> Path:
    """`$<env_var>` if set, else `<repo>/.cache/<name>`; created when `create`."""
    env = os.environ.get(env_var)
    path = Path(env) if env else repo_root() / ".cache" / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def temporary_beside(path: Path) -> str:
    """A new empty temporary file next to `path` (same filesystem, so os.replace is
    atomic), with the permissions a plain new file would get (mkstemp's are 0600). Its name,
    `.<name>.<pid>.<random>.tmp`, says which process writes it (see `remove_stale_temporaries`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


_STALE_AFTER_S = 24 * 3600


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporaries (`temporary_beside`) in `folder` whose writing process is gone
    (a save killed midway), or that are over a day old; returns what was removed."""
    removed = []
    for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
        pid = tmp.name.split(".")[-3] if tmp.name.count(".") >= 4 else ""
        try:
            old = time.time() - tmp.stat().st_mtime > _STALE_AFTER_S
            if old or (pid.isdigit() and not _alive(int(pid))):
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    tmp = temporary_beside(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
