"""Reader for the IDX format of MNIST-style files, gzip-compressed or plain."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

# IDX type code (third magic byte) -> big-endian numpy dtype.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip detected by its magic bytes) into a writable native-order array.

    The array's shape is the dims of the header, e.g. (60000, 28, 28) uint8 for MNIST images
    and (60000,) uint8 for labels. Raises ValueError on a bad magic number, an unknown type
    code, or a data size that disagrees with the header.
    """
    path = Path(path)
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file: only {len(data)} bytes")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    magic = int.from_bytes(data[:4], "big")
    if zero != 0 or code not in _DTYPES:
        raise ValueError(
            f"{path}: bad IDX magic number 0x{magic:08x}; expected 0x0000TTNN with type "
            f"code TT in {{{', '.join(f'0x{c:02x}' for c in _DTYPES)}}} and NN dimensions"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: IDX header needs {header} bytes, file has {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: IDX size mismatch: header dims {dims} of {dtype.name} need {expected} "
            f"data bytes, file has {len(data) - header}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))
