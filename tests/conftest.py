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
