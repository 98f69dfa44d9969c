"""CarRacing-v3 rollouts: seeded resets, the Brownian policy, parallel = serial, atomic caching."""
import numpy as np
import pytest
import torch

pytest.importorskip("gymnasium")
pytest.importorskip("Box2D")

from repro_lib.parts.dds.world_models import rollouts as R  # noqa: E402


def test_a_seeded_reset_gives_the_same_frame():
    a, b = R.make_env(), R.make_env()
    try:
        first, _ = a.reset(seed=7)
        again, _ = b.reset(seed=7)
        other, _ = b.reset(seed=8)
        assert first.shape == (96, 96, 3) and first.dtype == np.uint8
        assert np.array_equal(first, again)
        # a different track: the frames differ once the zoom-in shows it
        sa = sb = None
        for _ in range(60):
            sa, *_ = a.step(np.zeros(3, dtype=np.float32))
            sb, *_ = b.step(np.zeros(3, dtype=np.float32))
        assert not np.array_equal(sa, sb)
    finally:
        a.close()
        b.close()


def test_brownian_actions_stay_in_the_box_and_move_smoothly():
    actions = R.brownian_actions(2000, np.random.default_rng(0))
    assert actions.shape == (2000, 3) and actions.dtype == np.float32
    assert actions[:, 0].min() >= -1 and actions.max() <= 1 and actions[:, 1:].min() >= 0
    steps = np.abs(np.diff(actions, axis=0))
    assert steps.max() <= 5 * np.sqrt(1 / 50)  # increments are sqrt(dt) N(0, 1), clipped
    assert np.array_equal(actions, R.brownian_actions(2000, np.random.default_rng(0)))


def test_resize_frame():
    frame = np.zeros((96, 96, 3), dtype=np.uint8)
    frame[:, 48:] = 255
    small = R.resize_frame(frame)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8 and small.flags.writeable
    assert small[:, :30].max() == 0 and small[:, 34:].min() == 255
    with pytest.raises(ValueError, match="uint8"):
        R.resize_frame(frame.astype(float))


def test_rollouts_are_seeded_parallel_equals_serial_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_CACHE", str(tmp_path))
    serial = R.generate([3, 4], max_steps=6, workers=1, progress=False)
    parallel = R.generate([3, 4], max_steps=6, workers=2, progress=False)
    for s, p in zip(serial, parallel):
        assert s["seed"] == p["seed"]
        for k in ("frames", "actions", "rewards", "dones"):
            assert np.array_equal(s[k], p[k]), k
    first = R.load_rollouts([3, 4], max_steps=6, workers=2, progress=False)
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == [f"carracing-{first.data_id.split(':')[1]}.pt"]  # no temporaries
    assert first.frames.shape == (12, 64, 64, 3) and first.frames.dtype == torch.uint8
    assert first.seeds.tolist() == [3, 4] and first.lengths.tolist() == [6, 6]
    assert np.array_equal(first.frames[:6].numpy(), serial[0]["frames"])
    again = R.load_rollouts([3, 4], max_steps=6, progress=False)  # from the file
    assert again.data_id == first.data_id and torch.equal(again.frames, first.frames)
    assert R.rollouts_id([4, 3], 6) != R.rollouts_id([3, 4], 6)
    images = first.images()
    assert images.x.shape == (12, 3, 64, 64) and float(images.x.max()) <= 1
    rows, episodes, starts = first.sequences(3)
    assert rows.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert episodes.tolist() == [0, 0, 1, 1] and starts.tolist() == [0, 3, 0, 3]
    with pytest.raises(ValueError, match="no episode"):
        first.sequences(7)
    with pytest.raises(ValueError, match="distinct"):
        R.generate([1, 1], 3, progress=False)
