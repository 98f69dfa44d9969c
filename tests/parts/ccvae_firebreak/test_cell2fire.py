"""Reading document 004's data: the layouts pickle (structure checks, a malicious pickle
refused) and the Cell2Fire landscape files, on small files written here, and the real files
where the data folder has them."""
import math
import os
import pickle

import numpy as np
import pytest
import torch

from repro_lib.data import DataError, fingerprint
from repro_lib.data.safe_pickle import UnsafePickleError
from repro_lib.parts.ccvae_firebreak import cell2fire


def layout(ones=20, size=20, seed=0, dtype=np.uint8):
    state = np.zeros(size * size, dtype=dtype)
    state[np.random.default_rng(seed).choice(size * size, ones, replace=False)] = 1
    return state.reshape(size, size)


def good_pairs(n=6):
    return [[layout(seed=i), 0.5 + 0.01 * i] for i in range(n)]


# ---------------------------------------------------------------------------- layouts

def test_validate_pairs_returns_arrays():
    pairs = good_pairs()
    pairs[2][1] = np.float64(0.25)          # numpy scalars are numbers too
    pairs[3] = (layout(seed=3, dtype=bool), 1)   # a tuple, a bool state, an int reward
    states, rewards = cell2fire.validate_pairs(pairs)
    assert states.shape == (6, 20, 20) and states.dtype == np.uint8
    assert (states.reshape(6, -1).sum(1) == 20).all()
    assert rewards.tolist() == pytest.approx([0.5, 0.51, 0.25, 1.0, 0.54, 0.55])
    assert np.array_equal(states[0], pairs[0][0])


@pytest.mark.parametrize("change, message", [
    (lambda p: {"a": 1}, "expected a non-empty list of \\[state, reward\\] pairs, got dict"),
    (lambda p: [], "got list \\(empty\\)"),
    (lambda p: p[:2] + [[p[2][0]]] + p[3:], "item 2 of 6: expected a \\[state, reward\\] pair, got list of length 1"),
    (lambda p: p[:1] + [[p[1][0].tolist(), 0.5]] + p[2:], "item 1 of 6: the state is a list"),
    (lambda p: p[:1] + [[np.zeros((20, 21)), 0.5]] + p[2:], "item 1 of 6: the state has shape \\(20, 21\\)"),
    (lambda p: p[:4] + [[layout(seed=4) * 2, 0.5]] + p[5:], "item 4 of 6: the state holds values \\[0, 2\\]"),
    (lambda p: p[:5] + [[layout(ones=19), 0.5]], "item 5 of 6: the state has 19 firebreaks"),
    (lambda p: [[layout(), float("nan")]] + p[1:], "item 0 of 6: the reward is nan"),
    (lambda p: [[layout(), 1.5]] + p[1:], "item 0 of 6: the reward is 1.5, expected a finite share in \\[0, 1\\]"),
    (lambda p: [[layout(), "0.5"]] + p[1:], "item 0 of 6: the reward is a str"),
    (lambda p: [[np.array([["a"] * 20] * 20), 0.5]] + p[1:], "dtype <U1"),
])
def test_validate_pairs_says_what_is_wrong(change, message):
    with pytest.raises(cell2fire.Cell2FireFormatError, match=message):
        cell2fire.validate_pairs(change(good_pairs()))


def test_load_layouts_from_a_pickle(tmp_path):
    path = tmp_path / "layouts.pkl"
    pairs = good_pairs(8)
    path.write_bytes(pickle.dumps(pairs))
    data = cell2fire.load_layouts(path=path)
    x, y = data
    assert x.shape == (8, 1, 20, 20) and x.dtype == torch.float32 and y.dtype == torch.float32
    assert torch.equal(x[3, 0], torch.from_numpy(pairs[3][0]).float())
    assert y.tolist() == pytest.approx([p[1] for p in pairs])
    assert data.data_id == f"firebreaks_cell2fire-file:{path.resolve()}"
    part = cell2fire.load_layouts(2, 5, path=path)
    assert len(part) == 3 and part.data_id.endswith("[2:5]") and torch.equal(part.x, x[2:5])


def test_a_bad_or_malicious_pickle_is_refused(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(good_pairs()[:2] + [[layout(ones=21), 0.5]]))
    with pytest.raises(cell2fire.Cell2FireFormatError, match="item 2 of 3: the state has 21 firebreaks"):
        cell2fire.load_layouts(path=bad)

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps([[layout(), 0.5], Payload()]))
    with pytest.raises(UnsafePickleError, match="not numpy array reconstruction"):
        cell2fire.load_layouts(path=evil)
    assert not (tmp_path / "ran").exists()


def test_the_authors_file_through_the_registry():
    try:
        data = cell2fire.load_layouts()
    except DataError as err:
        pytest.skip(f"the authors' data are not here: {str(err)[:80]}")
    assert data.data_id == f"firebreaks_cell2fire:{fingerprint('firebreaks_cell2fire')}"
    x, y = data
    assert x.shape == (50000, 1, 20, 20)
    assert (x.reshape(50000, -1).sum(1) == 20).all()
    # the data README's numbers: rewards in [0.4979, 0.6457], mean 0.5421, sd 0.0185
    assert float(y.min()) == pytest.approx(0.4979, abs=1e-4) and float(y.max()) == pytest.approx(0.6457, abs=1e-4)
    assert float(y.double().mean()) == pytest.approx(0.5421, abs=1e-4)
    assert float(y.double().std()) == pytest.approx(0.0185, abs=1e-4)
    assert len(torch.unique(x.reshape(50000, -1).to(torch.uint8), dim=0)) == 50000
    assert cell2fire.load_layouts(45000, None).data_id.endswith("[45000:]")


# ---------------------------------------------------------------------------- landscape files

GRID_HEADER = "ncols\t{c}\nnrows\t{r}\nxllcorner\t457900\nyllcorner\t5716800\ncellsize\t100\nNODATA_value\t-9999\n"


def write_grid(path, values, header=None):
    values = np.asarray(values)
    text = (header or GRID_HEADER).format(r=values.shape[0], c=values.shape[1])
    text += "".join(" ".join(f"{v:g}" for v in row) + " \n" for row in values)
    path.write_text(text)
    return path


def test_read_ascii_grid(tmp_path):
    grid = cell2fire.read_ascii_grid(write_grid(tmp_path / "g.asc", [[1, 2, 3], [4, -9999, 6]]))
    assert grid.cellsize == 100 and grid.xll == 457900 and grid.yll == 5716800
    assert grid.values.shape == (2, 3) and math.isnan(grid.values[1, 1])
    assert grid.values[0].tolist() == [1, 2, 3] and grid.values[1, 2] == 6
    centred = "NCOLS {c}\nNROWS {r}\nXLLCENTER 1\nYLLCENTER 2\nCELLSIZE 30\n"
    grid = cell2fire.read_ascii_grid(write_grid(tmp_path / "c.asc", [[5.5]], centred))
    assert grid.values.tolist() == [[5.5]] and grid.cellsize == 30 and (grid.xll, grid.yll) == (1, 2)


@pytest.mark.parametrize("text, message", [
    ("ncols 2\nnrows 1\n1 2\n", "the header lacks cellsize"),
    ("ncols 2\nnrows 2\ncellsize 10\n1 2\n", "1 grid rows, the header says nrows 2"),
    ("ncols 2\nnrows 2\ncellsize 10\n1 2\n3\n", "grid row 2 has 1 values, the header says ncols 2"),
    ("ncols 2\nnrows 1\ncellsize 10\n1 x\n", "line 4: a grid row holds a value that is not a number"),
    ("ncols two\nnrows 1\ncellsize 10\n1 2\n", "header ncols has the value 'two'"),
])
def test_read_ascii_grid_errors(tmp_path, text, message):
    path = tmp_path / "bad.asc"
    path.write_text(text)
    with pytest.raises(cell2fire.Cell2FireFormatError, match=message):
        cell2fire.read_ascii_grid(path)


def write_instance(folder, n=4, fuels=None, streams=(((10, 20), (0, 90)), ((36, 36), (180, 180)))):
    """A 4x4 Cell2Fire instance: elevation rising to the east (10 m per cell), slope 10%, all
    slopes facing west (saz 270), fuel C-2 except where `fuels` says 101 (non-fuel); ignition
    at cell 6 (1-based: row 1, col 1) and points at cell 16; two weather streams (WS, WD)."""
    sub = folder / "Sub"
    (sub / "Weathers").mkdir(parents=True)
    elev = np.tile(np.arange(n) * 10.0 + 2000, (n, 1))
    fuels = np.full((n, n), 2) if fuels is None else fuels
    files = {}
    for name, values in {"elevation": elev, "slope": np.full((n, n), 10), "saz": np.full((n, n), 270),
                         "fuels": fuels}.items():
        files[f"Sub/{name}.asc"] = write_grid(sub / f"{name}.asc", values)
    (sub / "fbp_lookup_table.csv").write_text(
        "grid_value, export_value, descriptive_name, fuel_type, r, g, b, h, s, l\n"
        "2,2,Boreal Spruce,C-2,34,102,51,95,128,68\n101,101,Non-fuel,Non-fuel,130,130,130,170,0,130\n")
    types = ["C2" if f == 2 else "NF" for f in fuels.ravel()]
    (sub / "Data.csv").write_text("fueltype,lat,lon,elev,ws,waz,ps,saz\n" + "".join(
        f"{t},51.6,-115.6,{e:f},,,10,270\n" for t, e in zip(types, elev.ravel())))
    (sub / "Ignitions.csv").write_text("Year,Ncell\n1,6\n")
    (sub / "IgnitionPoints.csv").write_text("Year,Ncell\n1,16\n")
    for name in ("fbp_lookup_table.csv", "Data.csv", "Ignitions.csv", "IgnitionPoints.csv"):
        files[f"Sub/{name}"] = sub / name
    for i, (ws, wd) in enumerate(streams):
        path = sub / "Weathers" / f"Weather{i}.csv"
        path.write_text("Scenario,datetime,WS,WD\n" + "".join(f"JCB,2001-10-16 1{h}:00,{s},{d}\n"
                                                              for h, (s, d) in enumerate(zip(ws, wd))))
        files[f"Sub/Weathers/Weather{i}.csv"] = path
    return files


def test_read_instance_and_landscape(tmp_path):
    fuels = np.full((4, 4), 2)
    fuels[0, 3] = 101
    inst = cell2fire.read_instance(write_instance(tmp_path, fuels=fuels), folder="Sub")
    assert inst.shape == (4, 4) and inst.cellsize == 100
    assert inst.ignitions == (5,) and inst.ignition_points == (15,)
    assert inst.fuel_type[0, 0] == "C-2" and inst.fuel_type[0, 3] == "Non-fuel"
    assert inst.burnable.sum() == 15 and not inst.burnable[0, 3]
    assert inst.weather_speed_kmh.shape == (2, 2)
    land = cell2fire.landscape(inst, ignition_radius=1)
    assert land.fuel[0, 3] == 0 and land.fuel.sum() == 15
    assert np.allclose(land.slope, 0.10) and np.allclose(land.aspect, np.pi)   # facing west: pi in fire's angles
    assert np.array_equal(land.elevation, inst.elevation) and land.cell_m == 100
    # ignition: uniform over the 3x3 square around (1, 1); (0, 3) is outside it anyway
    expected = np.zeros((4, 4))
    expected[0:3, 0:3] = 1 / 9
    assert np.allclose(land.ignition, expected)
    wide = cell2fire.landscape(inst, ignition_radius=2)
    assert wide.ignition[0, 3] == 0 and np.isclose(wide.ignition.sum(), 1) and (wide.ignition > 0).sum() == 15
    # stream 0: winds from the north (0) and the east (90) at 10 and 20 km/h: blowing to the
    # south-west, 3*pi/4 in fire's angles (0 = east, pi/2 = south); stream 1: from the south
    assert land.stream_speed.tolist() == pytest.approx([15 / 3.6, 10.0])
    assert land.stream_dir.tolist() == pytest.approx([3 * np.pi / 4, -np.pi / 2])
    towards = cell2fire.landscape(inst, ignition_radius=1, wind_from=False)
    assert towards.stream_dir.tolist() == pytest.approx([-np.pi / 4, np.pi / 2])


def test_read_instance_errors(tmp_path):
    files = write_instance(tmp_path / "a")
    data = files["Sub/Data.csv"]
    data.write_text(data.read_text().replace("2000.000000", "2001.000000", 1))
    with pytest.raises(cell2fire.Cell2FireFormatError, match="Data.csv's elevations differ from elevation.asc"):
        cell2fire.read_instance(files, folder="Sub")

    files = write_instance(tmp_path / "b", fuels=np.full((4, 4), 7))
    with pytest.raises(cell2fire.Cell2FireFormatError, match="fuel codes \\[7\\]"):
        cell2fire.read_instance(files, folder="Sub")

    files = write_instance(tmp_path / "c")
    missing = {k: v for k, v in files.items() if "Weathers" not in k}
    with pytest.raises(cell2fire.Cell2FireFormatError, match="no weather streams"):
        cell2fire.read_instance(missing, folder="Sub")
    with pytest.raises(cell2fire.Cell2FireFormatError, match="lacks Sub/slope.asc"):
        cell2fire.read_instance({k: v for k, v in files.items() if "slope" not in k}, folder="Sub")

    files = write_instance(tmp_path / "d", streams=(((10, 20), (0, 90)), ((36,), (180,))))
    with pytest.raises(cell2fire.Cell2FireFormatError, match="differ in length"):
        cell2fire.read_instance(files, folder="Sub")

    files = write_instance(tmp_path / "e")
    files["Sub/Ignitions.csv"].write_text("Year,Ncell\n1,17\n")
    with pytest.raises(cell2fire.Cell2FireFormatError, match="Ncell 17 is not a cell number in 1..16"):
        cell2fire.read_instance(files, folder="Sub")

    files = write_instance(tmp_path / "f")
    files["Sub/Weathers/Weather1.csv"].write_text("Scenario,WS,WD\nJCB,-3,10\n")
    with pytest.raises(cell2fire.Cell2FireFormatError, match="differ in length|negative wind speed"):
        cell2fire.read_instance(files, folder="Sub")
    files["Sub/Weathers/Weather1.csv"].write_text("Scenario,WS\nJCB,3\nJCB,4\n")
    with pytest.raises(cell2fire.Cell2FireFormatError, match="no column WD"):
        cell2fire.read_instance(files, folder="Sub")


def test_the_authors_landscape():
    try:
        inst = cell2fire.instance()
    except DataError as err:
        pytest.skip(f"the authors' data are not here: {str(err)[:80]}")
    assert inst.shape == (20, 20) and inst.cellsize == 100
    assert inst.burnable.all() and set(inst.fuel_type.ravel()) == {"C-2"}      # homogeneous C-2 forest
    assert inst.ignitions == (209,) and inst.ignition_points == (380,)          # Ncell 210 and 381
    assert inst.weather_speed_kmh.shape == (360, 4)
    assert inst.elevation[0, 0] == 2138 and inst.slope_pct[0, 0] == 16 and inst.saz_deg[0, 0] == 342
    land = cell2fire.landscape(inst)
    ign = land.ignition > 0
    assert ign.sum() == 81 and ign[6:15, 5:14].all()       # the 9x9 square around row 10, column 9
