"""Thread counts: processes x threads within the free cores; user settings win."""
import os

import pytest

from repro_lib import threads


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for var in ("REPRO_THREADS", *threads.THREAD_VARIABLES):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)


@pytest.mark.parametrize("load, processes, expected", [
    (0.0, 1, 8), (0.0, 2, 4), (0.0, 3, 2), (3.2, 1, 5), (7.6, 1, 1), (20.0, 4, 1), (1.0, 16, 1),
])
def test_threads_share_the_free_cores(load, processes, expected):
    assert threads.threads_per_process(processes, load=load) == expected
    assert threads.threads_per_process(processes, load=load) * processes <= max(processes, 8 - round(load))


def test_repro_threads_fixes_the_answer(monkeypatch):
    monkeypatch.setenv("REPRO_THREADS", "3")
    assert threads.threads_per_process(4, load=7.0) == 3 == threads.free_cores(load=0.0)
    monkeypatch.setenv("REPRO_THREADS", "0")
    with pytest.raises(ValueError, match="REPRO_THREADS='0'"):
        threads.threads_per_process()


def test_kernel_environment_keeps_what_the_user_set(monkeypatch):
    assert threads.kernel_environment(2, load=0.0) == {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.kernel_environment(2, load=0.0)["OMP_NUM_THREADS"] == "1"
    with pytest.raises(ValueError, match="processes"):
        threads.threads_per_process(0)



def test_children_threads_sets_and_restores(monkeypatch):
    monkeypatch.setenv("MKL_NUM_THREADS", "2")
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (5.0, 0.0, 0.0))
    with threads.children_threads(1) as chosen:
        assert chosen.threads == 3
        assert os.environ["OMP_NUM_THREADS"] == "3" and os.environ["MKL_NUM_THREADS"] == "2"
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "2"
