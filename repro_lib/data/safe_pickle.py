"""Loading a pickle of numpy arrays without letting it run code.

A pickle names the functions that rebuild its objects, and `pickle.load` calls them: a
crafted file can run anything. `load_numpy_pickle` allows only numpy's array
reconstruction (plus the plain containers, numbers and strings pickle builds by itself)
and refuses any other name before calling it. Verify the file's checksum first (the
registry's `fetch` does).
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

# (module, name) pairs a pickle of numpy arrays needs; numpy 2 writes numpy._core.
ALLOWED = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for a function or class outside `ALLOWED`."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise UnsafePickleError(
                f"the pickle asks for {module}.{name}, which is not numpy array reconstruction; "
                "refusing to load it (it could run code)")
        return super().find_class(module, name)


def load_numpy_pickle(source: Path | bytes) -> Any:
    """The object in a pickle of numpy arrays, lists, tuples, dicts, numbers and strings;
    `UnsafePickleError` if it names anything else. `source`: a path or the file's bytes."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()
