"""Interactive explorers that also work in the static HTML book.

A static page has no kernel, so no Python callback ever runs there. Every
explorer here is therefore built from PRECOMPUTED frames (PNG images), and its
controls drive what is shown only through ``widgets.jslink`` links, which the
widget manager (in Jupyter, or ``@jupyter-widgets/html-manager``'s ``embed.js``
in the book) executes in the browser:

* :func:`image_explorer` -- one control (an ``IntSlider``, or a
  ``SelectionSlider`` showing ``labels``) jslinked to a ``widgets.Stack``'s
  ``selected_index``; the Stack holds one ``widgets.Image`` per frame.
* :func:`grid_explorer` -- two or more discrete controls (e.g. prior x lambda).
  ``jslink`` links one value to one value, so the grid is built as nested
  Stacks: the outer Stack is indexed by the first control, each of its children
  is a Stack indexed by the second control, and so on; EVERY Stack at depth
  ``d`` is jslinked to control ``d``. For axes of sizes ``n_1, ..., n_k`` that
  is ``1 + n_1 + n_1 n_2 + ... + n_1...n_{k-1}`` Stacks and as many links.

Frames may be matplotlib Figures (rendered with :func:`figure_to_png` at a low
dpi, and closed, so that Jupyter does not display them again), PNG/JPEG bytes,
or image arrays of shape ``(H, W)`` (grayscale) / ``(H, W, 3)`` (RGB) /
``(H, W, 4)`` (RGBA). Every frame is embedded in the notebook (and in the
page), so keep them small: the default dpi is 70.

The static page needs the widget state saved in the notebook (papermill and
nbclient do so by default) and ``_static/html-manager/embed.js`` (fetched by
``tools/fetch_book_js.sh``); see ``_config.yml``.
"""
from __future__ import annotations

import html
import io
import itertools
import numbers
from typing import Any, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from ipywidgets.widgets.widget_link import Link

__all__ = [
    "DEFAULT_DPI",
    "Explorer",
    "figure_to_png",
    "frame_to_image",
    "grid_explorer",
    "image_explorer",
]

#: dpi used to rasterise matplotlib figures; ~70 keeps a book page light.
DEFAULT_DPI = 70

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"


class Explorer(widgets.VBox):
    """The ``VBox`` returned by the explorers (renders as a plain ``VBox``).

    Python-side handles, for tests and for notebooks that want to tweak layout
    (none of them is needed for the explorer to work):

    * ``controls``: list of the control widgets, one per axis;
    * ``stack``: the outermost ``widgets.Stack``;
    * ``links``: list of the ``ipywidgets`` ``Link`` objects (``jslink``) that drive
      the Stacks; keeping them referenced keeps them alive.
    """

    controls: list[widgets.Widget]
    stack: widgets.Stack
    links: list[Link]


# --------------------------------------------------------------------------- frames

def figure_to_png(fig: Any, dpi: int = DEFAULT_DPI, close: bool = True, **savefig_kwargs: Any) -> bytes:
    """Rasterise a matplotlib Figure to PNG bytes.

    Args:
        fig: a ``matplotlib.figure.Figure`` of size ``(w, h)`` inches.
        dpi: resolution; the PNG is about ``(h * dpi, w * dpi)`` pixels (before
            ``bbox_inches="tight"`` trims the margins).
        close: close the figure afterwards (default), so that the inline
            backend does not also display every frame below the cell.
        **savefig_kwargs: passed to ``fig.savefig`` (``bbox_inches`` defaults
            to ``"tight"``).

    Returns:
        The PNG file's bytes.
    """
    savefig_kwargs.setdefault("bbox_inches", "tight")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **savefig_kwargs)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buf.getvalue()


def _array_to_png(arr: np.ndarray, min_size: int) -> bytes:
    """PNG bytes of an ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array.

    Floats are taken to lie in ``[0, 1]`` when they do (grayscale ones are then
    shown with a fixed 0..1 gray scale, not rescaled); other grayscale arrays are
    min-max scaled. Arrays smaller than ``min_size`` pixels on their longer side
    are enlarged by an integer factor (nearest neighbour: pixels stay crisp).
    """
    import matplotlib.image as mpimg

    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise ValueError(f"image arrays must be (H, W), (H, W, 3) or (H, W, 4); got shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.float32)
    longest = max(a.shape[0], a.shape[1])
    if min_size and 0 < longest < min_size:
        k = -(-min_size // longest)  # ceil
        a = np.repeat(np.repeat(a, k, axis=0), k, axis=1)
    buf = io.BytesIO()
    if a.ndim == 2:
        kwargs: dict[str, Any] = {"cmap": "gray"}
        if np.issubdtype(a.dtype, np.floating) and np.nanmin(a) >= 0.0 and np.nanmax(a) <= 1.0:
            kwargs.update(vmin=0.0, vmax=1.0)
        elif a.dtype == np.uint8:
            kwargs.update(vmin=0, vmax=255)
        mpimg.imsave(buf, a, format="png", **kwargs)
    else:
        if np.issubdtype(a.dtype, np.floating):
            a = np.clip(a, 0.0, 1.0)
        elif a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        mpimg.imsave(buf, a, format="png")
    return buf.getvalue()


def _frame_to_bytes(frame: Any, dpi: int, min_size: int) -> tuple[bytes, str]:
    """``(image bytes, format)`` of one frame (Figure, PNG/JPEG bytes or array)."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        data = bytes(frame)
        if data.startswith(_PNG_SIGNATURE):
            return data, "png"
        if data.startswith(_JPEG_SIGNATURE):
            return data, "jpeg"
        raise ValueError("byte frames must be PNG or JPEG files")
    if hasattr(frame, "savefig"):  # a matplotlib Figure
        return figure_to_png(frame, dpi=dpi), "png"
    if isinstance(frame, np.ndarray) or hasattr(frame, "__array__"):
        return _array_to_png(np.asarray(frame), min_size), "png"
    raise TypeError(
        f"cannot make an image of a {type(frame).__name__}; "
        "give a matplotlib Figure, PNG/JPEG bytes or an (H, W[, 3|4]) array"
    )


def frame_to_image(
    frame: Any, dpi: int = DEFAULT_DPI, min_size: int = 128, width: int | None = None
) -> widgets.Image:
    """A ``widgets.Image`` of one frame.

    Args:
        frame: a matplotlib Figure (rasterised at ``dpi`` and closed), PNG or
            JPEG bytes, or an array of shape ``(H, W)``, ``(H, W, 3)`` or
            ``(H, W, 4)`` (floats in ``[0, 1]`` or uint8).
        dpi: dpi for Figures.
        min_size: arrays whose longer side is below this many pixels are
            enlarged by an integer factor (nearest neighbour).
        width: optional display width in CSS pixels (height follows).
    """
    data, fmt = _frame_to_bytes(frame, dpi, min_size)
    kwargs: dict[str, Any] = {}
    if width is not None:
        kwargs["width"] = str(int(width))
    return widgets.Image(value=data, format=fmt, **kwargs)


def _placeholder(text: str) -> widgets.HTML:
    return widgets.HTML(f"<div style='padding:1em;color:#777'><i>{html.escape(text)}</i></div>")


# --------------------------------------------------------------------------- controls

def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, bool)


def _format_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _selection_control(description: str, values: Sequence[Any], kind: str) -> widgets.Widget:
    """A selection control whose synced ``index`` is the position in ``values``.

    ``kind``: ``"slider"`` (``SelectionSlider``), ``"toggle"`` (``ToggleButtons``),
    ``"dropdown"`` (``Dropdown``) or ``"auto"`` (slider when all values are
    numbers, toggle buttons otherwise).
    """
    if kind == "auto":
        kind = "slider" if all(_is_number(v) for v in values) else "toggle"
    # (label, position) pairs: labels may repeat, and `index` == `value` == position.
    options = [(_format_value(v), i) for i, v in enumerate(values)]
    common = dict(options=options, value=0, description=description, style={"description_width": "initial"})
    if kind == "slider":
        return widgets.SelectionSlider(continuous_update=True, readout=True, **common)
    if kind == "toggle":
        return widgets.ToggleButtons(**common)
    if kind == "dropdown":
        return widgets.Dropdown(**common)
    raise ValueError(f"unknown control kind {kind!r}; use 'auto', 'slider', 'toggle' or 'dropdown'")


def _header(title: str | None) -> list[widgets.Widget]:
    return [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []


# --------------------------------------------------------------------------- explorers

def image_explorer(
    frames: Sequence[Any],
    labels: Sequence[Any] | None = None,
    description: str = "frame",
    title: str | None = None,
    *,
    dpi: int = DEFAULT_DPI,
    min_size: int = 128,
    width: int | None = None,
) -> Explorer:
    """A slider that flips through precomputed frames; works in a static page.

    Args:
        frames: ``n >= 1`` frames, each a matplotlib Figure (closed after
            rasterising), PNG/JPEG bytes, or an array of shape ``(H, W)``,
            ``(H, W, 3)`` or ``(H, W, 4)``.
        labels: optional ``n`` labels (e.g. the beta of each frame); then the
            control is a ``SelectionSlider`` showing them, else an ``IntSlider``
            over ``0 .. n-1``.
        description: the slider's label.
        title: optional bold line above the slider.
        dpi, min_size, width: see :func:`frame_to_image`.

    Returns:
        An :class:`Explorer` (``VBox``: [title], slider, Stack of ``n``
        ``widgets.Image``), with the slider's value (``IntSlider``) or
        ``index`` (``SelectionSlider``) jslinked to the Stack's
        ``selected_index``.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("image_explorer needs at least one frame")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(frames):
            raise ValueError(f"{len(labels)} labels for {len(frames)} frames")

    images = [frame_to_image(f, dpi=dpi, min_size=min_size, width=width) for f in frames]
    stack = widgets.Stack(children=images, selected_index=0)
    if labels is None:
        control: widgets.Widget = widgets.IntSlider(
            value=0, min=0, max=len(frames) - 1, step=1, description=description,
            continuous_update=True, style={"description_width": "initial"},
        )
        links = [widgets.jslink((control, "value"), (stack, "selected_index"))]
    else:
        control = _selection_control(description, labels, "slider")
        links = [widgets.jslink((control, "index"), (stack, "selected_index"))]

    box = Explorer(children=[*_header(title), control, stack])
    box.controls, box.stack, box.links = [control], stack, links
    return box


def grid_explorer(
    frames: Mapping[tuple, Any],
    axes: Mapping[str, Sequence[Any]],
    title: str | None = None,
    *,
    controls: str | Mapping[str, str] = "auto",
    missing: str = "not computed",
    dpi: int = DEFAULT_DPI,
    min_size: int = 128,
    width: int | None = None,
) -> Explorer:
    """Explore frames on a grid of two or more discrete settings; works in a static page.

    Args:
        frames: ``{(a_1, ..., a_k): frame}`` with one key component per axis,
            in the order of ``axes`` (a frame is as in :func:`image_explorer`).
            Grid points without a frame show the text ``missing``.
        axes: ``{name: values}`` for ``k >= 1`` axes, e.g.
            ``{"prior": ["tv", "entropy"], "lambda": [0.01, 0.1, 1.0]}``; the
            name is the control's label.
        title: optional bold line above the controls.
        controls: the kind of control, for all axes or per axis name:
            ``"auto"`` (``SelectionSlider`` for numeric values, else
            ``ToggleButtons``), ``"slider"``, ``"toggle"`` or ``"dropdown"``.
            Every kind exposes the chosen position as its synced ``index``.
        missing: text shown for grid points absent from ``frames``.
        dpi, min_size, width: see :func:`frame_to_image`.

    Returns:
        An :class:`Explorer` (``VBox``: [title], ``k`` controls, nested Stacks).
        With axis sizes ``n_1 .. n_k`` the outer Stack has ``n_1`` children,
        each a Stack of ``n_2`` children, ..., the innermost holding
        ``widgets.Image``. Each Stack at depth ``d`` has its ``selected_index``
        jslinked to control ``d``'s ``index`` (``1 + n_1 + ... +
        n_1...n_{k-1}`` links), so the shown frame is
        ``frames[(axes[0][i_1], ..., axes[k-1][i_k])]``.
    """
    names = list(axes)
    values = [list(axes[n]) for n in names]
    if not names:
        raise ValueError("grid_explorer needs at least one axis")
    for name, vals in zip(names, values):
        if not vals:
            raise ValueError(f"axis {name!r} has no values")
    k = len(names)
    frames = dict(frames)
    grid = set(itertools.product(*values))
    for key in frames:
        if not isinstance(key, tuple) or len(key) != k:
            raise ValueError(f"frame key {key!r} is not a {k}-tuple matching axes {names}")
        if key not in grid:
            raise ValueError(f"frame key {key!r} is not on the grid of axes {dict(zip(names, values))}")

    kinds = {n: (controls if isinstance(controls, str) else controls.get(n, "auto")) for n in names}
    ctrls = [_selection_control(n, v, kinds[n]) for n, v in zip(names, values)]
    links: list[Link] = []

    def build(depth: int, prefix: tuple) -> widgets.Widget:
        if depth == k:
            if prefix in frames:
                return frame_to_image(frames[prefix], dpi=dpi, min_size=min_size, width=width)
            label = ", ".join(f"{n}={_format_value(v)}" for n, v in zip(names, prefix))
            return _placeholder(f"{missing} ({label})")
        children = [build(depth + 1, prefix + (v,)) for v in values[depth]]
        stack = widgets.Stack(children=children, selected_index=0)
        links.append(widgets.jslink((ctrls[depth], "index"), (stack, "selected_index")))
        return stack

    outer = build(0, ())
    box = Explorer(children=[*_header(title), *ctrls, outer])
    box.controls, box.stack, box.links = ctrls, outer, links
    return box
