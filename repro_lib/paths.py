"""Where the repository is, and atomic file writes."""
from __future__ import annotations

import os
import tempfile
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


def cache_folder(name: str, env_var: str) -> Path:
    """`$<env_var>` if set, else `<repo>/.cache/<name>`; created on demand."""
    env = os.environ.get(env_var)
    path = Path(env) if env else repo_root() / ".cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def temporary_beside(path: Path) -> str:
    """A new empty temporary file next to `path` (same filesystem, so os.replace is
    atomic), with the permissions a plain new file would get (mkstemp's are 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    tmp = temporary_beside(path)
    try:
        with open(tmp, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
