"""`tasks.task_map` off the engine: the same results, in order, in this process and in worker
processes; `shared` reaches each worker once; a failing item is named. (On Ray: test_engine.)"""
import os

import pytest

from repro_lib import tasks


def scaled(shared, item):
    return shared["scale"] * item


def where_and_what(shared, item):
    """The worker's pid, the token it sees for `shared`, and whether `shared` is the object
    the worker holds (not a fresh copy per item)."""
    return os.getpid(), tasks.token(shared), tasks._SHARED.get(tasks.token(shared)) is shared


def fails_on_three(shared, item):
    if item == 3:
        raise ValueError("three is not allowed")
    return item


@pytest.fixture(autouse=True)
def off_the_engine(monkeypatch):
    monkeypatch.delenv(tasks.ADDRESS_VARIABLE, raising=False)


def test_serial_and_processes_give_the_same_results_in_order():
    items = list(range(7))
    expected = [10 * i for i in items]
    assert tasks.task_map(scaled, items, {"scale": 10}, workers=1, progress=False) == expected
    assert tasks.task_map(scaled, items, {"scale": 10}, workers=2, progress=False) == expected
    assert tasks.task_map(scaled, [], {"scale": 10}, progress=False) == []


def test_each_worker_holds_shared_once_under_its_token():
    shared = {"weights": list(range(1000))}
    rows = tasks.task_map(where_and_what, range(6), shared, workers=2, progress=False)
    assert {pid for pid, _, _ in rows} - {os.getpid()}, "the items ran in worker processes"
    assert {t for _, t, _ in rows} == {tasks.token(shared)}
    assert all(held for _, _, held in rows)


def test_made_once_builds_once_per_shared_object_and_part():
    built = []

    def build(tag):
        built.append(tag)
        return tag

    a, b = {"w": [1]}, {"w": [2]}
    assert tasks.made_once(a, lambda: build("a1"), "one") == "a1"
    assert tasks.made_once({"w": [1]}, lambda: build("again"), "one") == "a1"  # same content
    assert tasks.made_once(a, lambda: build("a2"), "two") == "a2"
    assert tasks.made_once(b, lambda: build("b1"), "one") == "b1"  # a new shared object
    assert tasks.made_once(a, lambda: build("a1 rebuilt"), "one") == "a1 rebuilt"  # b's dropped a's
    assert built == ["a1", "a2", "b1", "a1 rebuilt"]


def test_token_names_content_not_identity():
    assert tasks.token({"a": [1, 2]}) == tasks.token({"a": [1, 2]}) != tasks.token({"a": [1, 3]})


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_item_is_named(workers):
    with pytest.raises(tasks.TaskError, match=r"item 3 failed: ValueError: three is not allowed"):
        tasks.task_map(fails_on_three, range(5), workers=workers, progress=False)


def test_bad_worker_count_is_refused():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        tasks.task_map(scaled, [1], {"scale": 1}, workers=0)
