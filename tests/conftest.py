import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _environment():
    """Tests run offline, from the repo root, with the project's data copy if present."""
    os.environ.setdefault("REPRO_OFFLINE", "1")
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if "REPRO_DATA" not in os.environ and SHARED_DATA.is_dir():
        os.environ["REPRO_DATA"] = str(SHARED_DATA)
    os.chdir(ROOT)


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """An isolated data environment: empty REPRO_DATA (tmp/repro_data), download cache, HOME and
    working directory, downloads allowed (REPRO_OFFLINE unset). Returns tmp_path."""
    (tmp_path / "repro_data").mkdir()
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "repro_data"))
    monkeypatch.setenv("REPRO_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path
