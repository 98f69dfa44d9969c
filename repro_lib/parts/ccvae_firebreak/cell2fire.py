"""Document 004's own data: the authors' 50,000 layouts with their Cell2Fire rewards, and the
Cell2Fire landscape they were simulated on, read into what `fire` needs.

The layouts (`Sub20x20_full_grid.pkl`, a pickle of a list of `[state, reward]` pairs) come
through the data registry (`firebreaks_cell2fire`: checksum first) and
`repro_lib.data.safe_pickle.load_numpy_pickle` (numpy arrays only); `validate_pairs` then checks
their structure and says what is wrong with the first bad item.

The landscape folder (`Sub20x20/`) is a Cell2Fire instance:

* `elevation.asc`, `slope.asc` (percent), `saz.asc` (slope azimuth, degrees clockwise from
  north: the direction the slope faces), `fuels.asc` (fuel codes): ESRI ASCII grids;
* `fbp_lookup_table.csv`: fuel code -> Canadian FBP fuel type ("Non-fuel" burns nothing);
* `Data.csv`: one row per cell (fuel type, elevation, slope, aspect), checked against the grids;
* `Ignitions.csv` (read by Cell2Fire's `--ignitions`) and `IgnitionPoints.csv`: `Year,Ncell`,
  1-based cell numbers counted row by row from the grid's north-west corner;
* `Weathers/Weather<i>.csv`: hourly weather streams, wind speed `WS` (km/h) and direction
  `WD` (degrees clockwise from north).

`landscape(instance, ...)` turns it into a `fire.Landscape`: fuel 1 on burnable cells and 0
on non-fuel, the elevation, slope as rise over run, aspect in `fire`'s convention (radians,
0 = east, pi/2 = south), ignitions uniform over the cells within `ignition_radius` (Chebyshev
distance, Cell2Fire's `--IgnitionRad`) of the ignition cell, and one mean wind per weather
stream (`wind_from`: whether WD is where the wind comes from, the meteorological convention).
"""
from __future__ import annotations

import csv
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...data import Tensors, fetch, fingerprint
from ...data.safe_pickle import load_numpy_pickle
from . import fire

DATASET = "firebreaks_cell2fire"
PICKLE = "Sub20x20_full_grid.pkl"
FOLDER = "Sub20x20"
SIZE = 20
FIREBREAKS = 20


class Cell2FireFormatError(ValueError):
    """A Cell2Fire file or the layouts pickle does not have the expected structure."""


# ---------------------------------------------------------------------------- layouts

def validate_pairs(obj, size: int = SIZE, firebreaks: int = FIREBREAKS) -> tuple[np.ndarray, np.ndarray]:
    """Check the pickle's content and return (states (N, size, size) uint8, rewards (N,) float64).

    `obj` must be a non-empty list of `[state, reward]` pairs: `state` a (size, size) numpy
    array of 0/1 with exactly `firebreaks` ones, `reward` a finite number in [0, 1] (the share
    of cells not burned). The first item that breaks a rule raises `Cell2FireFormatError`
    naming the item and the rule."""
    if not isinstance(obj, (list, tuple)) or not obj:
        raise Cell2FireFormatError(f"expected a non-empty list of [state, reward] pairs, got "
                                   f"{type(obj).__name__}{'' if obj else ' (empty)'}")
    states = np.empty((len(obj), size, size), dtype=np.uint8)
    rewards = np.empty(len(obj), dtype=np.float64)
    for i, item in enumerate(obj):
        where = f"item {i} of {len(obj)}"
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise Cell2FireFormatError(f"{where}: expected a [state, reward] pair, got {type(item).__name__}"
                                       + (f" of length {len(item)}" if isinstance(item, (list, tuple)) else ""))
        state, reward = item
        if not isinstance(state, np.ndarray):
            raise Cell2FireFormatError(f"{where}: the state is a {type(state).__name__}, expected a numpy array")
        if state.shape != (size, size):
            raise Cell2FireFormatError(f"{where}: the state has shape {state.shape}, expected ({size}, {size})")
        if not (np.issubdtype(state.dtype, np.number) or state.dtype == bool):
            raise Cell2FireFormatError(f"{where}: the state has dtype {state.dtype}, expected numbers 0/1")
        values = np.unique(state)
        if not np.isin(values, (0, 1)).all():
            raise Cell2FireFormatError(f"{where}: the state holds values {values.tolist()[:6]}, expected only 0 and 1")
        ones = int(state.sum())
        if ones != firebreaks:
            raise Cell2FireFormatError(f"{where}: the state has {ones} firebreaks (ones), "
                                       f"expected exactly {firebreaks}")
        if isinstance(reward, (bool, np.bool_)) or not isinstance(reward, (int, float, np.integer, np.floating)):
            raise Cell2FireFormatError(f"{where}: the reward is a {type(reward).__name__}, expected a number")
        reward = float(reward)
        if not math.isfinite(reward) or not 0.0 <= reward <= 1.0:
            raise Cell2FireFormatError(f"{where}: the reward is {reward!r}, expected a finite share in [0, 1]")
        states[i], rewards[i] = state, reward
    return states, rewards


@functools.lru_cache(maxsize=2)
def _read_layouts(path: str) -> tuple[np.ndarray, np.ndarray]:
    states, rewards = validate_pairs(load_numpy_pickle(Path(path)))
    states.setflags(write=False)
    rewards.setflags(write=False)
    return states, rewards


def data_id() -> str:
    """The identity of the whole file: the data set's name and its registry fingerprint."""
    return f"{DATASET}:{fingerprint(DATASET)}"


def load_layouts(start: int | None = None, stop: int | None = None, path: Path | None = None) -> Tensors:
    """The authors' layouts and Cell2Fire rewards, rows start:stop of the file (in file order):
    `Tensors((layouts (n, 1, 20, 20) float32 in {0, 1}, reward (n,) float32), data_id)` with
    data_id `firebreaks_cell2fire:<fingerprint>[start:stop]`. `path`: a pickle to read instead
    of the registry's file (tests); its data_id names the file."""
    if path is None:
        path, ident = fetch(DATASET)[PICKLE], data_id()
    else:
        ident = f"{DATASET}-file:{Path(path).resolve()}"
    states, rewards = _read_layouts(str(path))
    whole = Tensors((torch.from_numpy(states.astype(np.float32)).unsqueeze(1),
                     torch.from_numpy(rewards.astype(np.float32))), ident)
    return whole if start is None and stop is None else whole.rows(start, stop)


# ---------------------------------------------------------------------------- landscape files

@dataclass(frozen=True)
class AsciiGrid:
    """An ESRI ASCII grid: `values` (nrows, ncols) float64, NODATA cells as NaN; `cellsize` (m)."""

    values: np.ndarray
    cellsize: float
    xll: float
    yll: float


_HEADER = ("ncols", "nrows", "cellsize")


def read_ascii_grid(path: Path) -> AsciiGrid:
    """Read an ESRI ASCII grid (header lines `key value`: ncols, nrows, xllcorner/xllcenter,
    yllcorner/yllcenter, cellsize, optional NODATA_value; then nrows lines of ncols numbers,
    north row first; spaces or tabs)."""
    path = Path(path)
    header: dict[str, float] = {}
    rows: list[list[float]] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if not rows and re.fullmatch(r"[A-Za-z_]+", parts[0]):
                if len(parts) != 2:
                    raise Cell2FireFormatError(f"{path}, line {number}: header line {line.strip()!r} "
                                               "should be a key and one value")
                try:
                    header[parts[0].lower()] = float(parts[1])
                except ValueError:
                    raise Cell2FireFormatError(f"{path}, line {number}: header {parts[0]} has the value "
                                               f"{parts[1]!r}, not a number") from None
                continue
            try:
                rows.append([float(v) for v in parts])
            except ValueError:
                raise Cell2FireFormatError(f"{path}, line {number}: a grid row holds a value that is not a "
                                           "number") from None
    missing = [key for key in _HEADER if key not in header]
    if missing:
        raise Cell2FireFormatError(f"{path}: the header lacks {', '.join(missing)} (an ESRI ASCII grid "
                                   "starts with ncols, nrows, xllcorner, yllcorner, cellsize)")
    ncols, nrows = int(header["ncols"]), int(header["nrows"])
    if len(rows) != nrows:
        raise Cell2FireFormatError(f"{path}: {len(rows)} grid rows, the header says nrows {nrows}")
    bad = [i for i, r in enumerate(rows) if len(r) != ncols]
    if bad:
        raise Cell2FireFormatError(f"{path}: grid row {bad[0] + 1} has {len(rows[bad[0]])} values, the header "
                                   f"says ncols {ncols}")
    values = np.array(rows, dtype=np.float64)
    if "nodata_value" in header:
        values[values == header["nodata_value"]] = np.nan
    return AsciiGrid(values, header["cellsize"], header.get("xllcorner", header.get("xllcenter", 0.0)),
                     header.get("yllcorner", header.get("yllcenter", 0.0)))


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts (header names stripped, a leading '#' dropped); every name
    in `required` must be a column."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            names = [n.strip().lstrip("#").strip() for n in next(reader)]
        except StopIteration:
            raise Cell2FireFormatError(f"{path}: empty file, expected a header with {', '.join(required)}") from None
        rows = [dict(zip(names, (v.strip() for v in row))) for row in reader if any(v.strip() for v in row)]
    missing = [c for c in required if c not in names]
    if missing:
        raise Cell2FireFormatError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(names)})")
    return rows


def _number(path: Path, row: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Cell2FireFormatError(f"{path}, data row {row}: {column} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise Cell2FireFormatError(f"{path}, data row {row}: {column} is {text!r}, not a finite number")
    return value


def read_fuel_lookup(path: Path) -> dict[int, str]:
    """fbp_lookup_table.csv: grid value -> FBP fuel type ("C-2", ..., "Non-fuel")."""
    rows = _read_csv(path, ("grid_value", "fuel_type"))
    return {int(_number(path, i + 1, "grid_value", r["grid_value"])): r["fuel_type"] for i, r in enumerate(rows)}


def read_cells(path: Path) -> dict[str, np.ndarray]:
    """Data.csv: per cell (row by row from the north-west corner) its fuel type (`fueltype`,
    e.g. "C2", "NF"), elevation (`elev`, m), slope (`ps`, percent) and slope azimuth (`saz`, deg)."""
    rows = _read_csv(path, ("fueltype", "elev", "ps", "saz"))
    if not rows:
        raise Cell2FireFormatError(f"{path}: no cell rows")
    out = {"fueltype": np.array([r["fueltype"] for r in rows])}
    for col in ("elev", "ps", "saz"):
        out[col] = np.array([_number(path, i + 1, col, r[col]) for i, r in enumerate(rows)])
    return out


def read_ignitions(path: Path, n_cells: int) -> list[int]:
    """Ignitions.csv / IgnitionPoints.csv (`Year,Ncell`): the 0-based flat indices of the cells
    (the files count from 1)."""
    rows = _read_csv(path, ("Ncell",))
    cells = []
    for i, r in enumerate(rows):
        value = _number(path, i + 1, "Ncell", r["Ncell"])
        if value != int(value) or not 1 <= value <= n_cells:
            raise Cell2FireFormatError(f"{path}, data row {i + 1}: Ncell {r['Ncell']} is not a cell number "
                                       f"in 1..{n_cells}")
        cells.append(int(value) - 1)
    if not cells:
        raise Cell2FireFormatError(f"{path}: no ignition cell")
    return cells


def read_weather(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One weather stream: hourly wind speed `WS` (km/h, >= 0) and direction `WD` (degrees)."""
    rows = _read_csv(path, ("WS", "WD"))
    if not rows:
        raise Cell2FireFormatError(f"{path}: no weather rows")
    ws = np.array([_number(path, i + 1, "WS", r["WS"]) for i, r in enumerate(rows)])
    wd = np.array([_number(path, i + 1, "WD", r["WD"]) for i, r in enumerate(rows)])
    if (ws < 0).any():
        raise Cell2FireFormatError(f"{path}: negative wind speed {ws.min()}")
    return ws, wd


# ---------------------------------------------------------------------------- the instance

@dataclass(frozen=True)
class Instance:
    """A Cell2Fire instance read from its files: grids (H, W) `elevation` (m), `slope_pct`,
    `saz_deg` (slope azimuth), `fuel_type` (FBP code per cell), `ignitions` (0-based flat cells
    of Ignitions.csv), `ignition_points` (IgnitionPoints.csv, or empty), `weather_speed_kmh` and
    `weather_dir_deg` (streams, hours), `cellsize` (m)."""

    elevation: np.ndarray
    slope_pct: np.ndarray
    saz_deg: np.ndarray
    fuel_type: np.ndarray
    ignitions: tuple[int, ...]
    ignition_points: tuple[int, ...]
    weather_speed_kmh: np.ndarray
    weather_dir_deg: np.ndarray
    cellsize: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.elevation.shape

    @property
    def burnable(self) -> np.ndarray:
        """(H, W) bool: cells whose fuel type is not "Non-fuel"."""
        return ~np.char.startswith(np.char.lower(self.fuel_type.astype(str)), "non")


def _stream_number(name: str) -> int:
    match = re.search(r"Weather(\d+)\.csv$", name)
    return int(match.group(1)) if match else -1


def read_instance(files: dict[str, Path], folder: str = FOLDER) -> Instance:
    """Read the instance from `{relative name: path}` (the registry's `fetch` result, or any dict
    with the names `<folder>/elevation.asc`, ..., `<folder>/Weathers/Weather<i>.csv`).
    The grids must agree in shape and cell size, and Data.csv with the grids."""
    def need(name: str) -> Path:
        key = f"{folder}/{name}"
        if key not in files:
            raise Cell2FireFormatError(f"the Cell2Fire instance lacks {key}")
        return Path(files[key])

    grids = {name: read_ascii_grid(need(f"{name}.asc")) for name in ("elevation", "slope", "saz", "fuels")}
    shapes = {name: g.values.shape for name, g in grids.items()}
    if len(set(shapes.values())) != 1:
        raise Cell2FireFormatError(f"the grids differ in shape: {shapes}")
    sizes = {name: g.cellsize for name, g in grids.items()}
    if len(set(sizes.values())) != 1:
        raise Cell2FireFormatError(f"the grids differ in cell size: {sizes}")
    for name, g in grids.items():
        if np.isnan(g.values).any():
            raise Cell2FireFormatError(f"{folder}/{name}.asc has NODATA cells; this reader needs complete grids")
    shape = shapes["elevation"]
    lookup = read_fuel_lookup(need("fbp_lookup_table.csv"))
    codes = grids["fuels"].values.astype(int)
    unknown = sorted(set(codes.ravel().tolist()) - set(lookup))
    if unknown:
        raise Cell2FireFormatError(f"{folder}/fuels.asc uses fuel codes {unknown} that fbp_lookup_table.csv "
                                   "does not list")
    fuel_type = np.vectorize(lookup.get)(codes)
    cells = read_cells(need("Data.csv"))
    n = shape[0] * shape[1]
    if len(cells["elev"]) != n:
        raise Cell2FireFormatError(f"{folder}/Data.csv has {len(cells['elev'])} cells, the grids {n}")
    if not np.allclose(cells["elev"], grids["elevation"].values.ravel()):
        raise Cell2FireFormatError(f"{folder}/Data.csv's elevations differ from elevation.asc")
    table_types = np.char.replace(np.char.upper(cells["fueltype"].astype(str)), "-", "")
    grid_types = np.char.replace(np.char.upper(fuel_type.ravel().astype(str)), "-", "")
    burnable_types = ~np.char.startswith(grid_types, "NON")
    if not (table_types[burnable_types] == grid_types[burnable_types]).all():
        raise Cell2FireFormatError(f"{folder}/Data.csv's fuel types differ from fuels.asc")
    ignitions = read_ignitions(need("Ignitions.csv"), n)
    points = read_ignitions(need("IgnitionPoints.csv"), n) if f"{folder}/IgnitionPoints.csv" in files else []
    streams = sorted((k for k in files if k.startswith(f"{folder}/Weathers/") and _stream_number(k) >= 0),
                     key=_stream_number)
    if not streams:
        raise Cell2FireFormatError(f"the instance has no weather streams {folder}/Weathers/Weather<i>.csv")
    winds = [read_weather(Path(files[k])) for k in streams]
    hours = {len(ws) for ws, _ in winds}
    if len(hours) != 1:
        raise Cell2FireFormatError(f"the weather streams differ in length (hours): {sorted(hours)}")
    return Instance(grids["elevation"].values, grids["slope"].values, grids["saz"].values, fuel_type,
                    tuple(ignitions), tuple(points), np.stack([w for w, _ in winds]),
                    np.stack([d for _, d in winds]), float(sizes["elevation"]))


@functools.lru_cache(maxsize=1)
def instance() -> Instance:
    """The registry's Cell2Fire instance (checksums verified by `fetch`)."""
    return read_instance(fetch(DATASET))


def ignition_map(inst: Instance, radius: int) -> np.ndarray:
    """(H, W) ignition probabilities: uniform over the burnable cells within Chebyshev distance
    `radius` of any of the instance's ignition cells (Cell2Fire's `--IgnitionRad`)."""
    h, w = inst.shape
    rows, cols = np.mgrid[0:h, 0:w]
    near = np.zeros((h, w), dtype=bool)
    for cell in inst.ignitions:
        r, c = divmod(cell, w)
        near |= np.maximum(np.abs(rows - r), np.abs(cols - c)) <= radius
    near &= inst.burnable
    if not near.any():
        raise Cell2FireFormatError("no burnable cell lies within the ignition radius")
    return near / near.sum()


def stream_winds(inst: Instance, wind_from: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One wind per weather stream: the mean hourly wind vector's direction in `fire`'s
    convention (radians, the way the wind blows: 0 = east, pi/2 = south) and the mean hourly
    speed in m/s. `wind_from`: WD is the direction the wind comes from (meteorological)."""
    to_deg = inst.weather_dir_deg + (180.0 if wind_from else 0.0)   # compass bearing it blows to
    angle = np.deg2rad(to_deg - 90.0)                               # bearing 90 (east) -> 0, 180 (south) -> pi/2
    direction = np.arctan2(np.sin(angle).mean(1), np.cos(angle).mean(1))
    return direction, inst.weather_speed_kmh.mean(1) / 3.6


def landscape(inst: Instance, ignition_radius: int = 4, wind_from: bool = True) -> fire.Landscape:
    """The instance as a `fire.Landscape` with its weather streams (see the module docstring)."""
    direction, speed = stream_winds(inst, wind_from)
    aspect = np.deg2rad(inst.saz_deg - 90.0)   # saz: compass bearing the slope faces (downhill)
    return fire.Landscape(inst.burnable.astype(np.float64), inst.elevation.astype(np.float64),
                          inst.slope_pct / 100.0, aspect, ignition_map(inst, ignition_radius), inst.cellsize,
                          stream_dir=direction, stream_speed=speed)
