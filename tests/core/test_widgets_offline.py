"""The precomputed widget explorers (repro_lib.widgets) and their offline static rendering.

Fast tests check the widget structure (Stacks, children, jslinks, labels).
The slow test builds a one-page Jupyter Book with the repository's _config.yml,
opens the page in headless Chromium with every host name unresolvable (no
network), and checks that the html-manager served from _static/ rendered a
slider and an image, with the jslink already applied in the browser.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from browser import chromium, class_present, dump_dom  # noqa: E402
from ipywidgets.widgets.widget_link import Link  # noqa: E402

from repro_lib.widgets import (  # noqa: E402
    Explorer,
    figure_to_png,
    frame_to_image,
    grid_explorer,
    image_explorer,
)

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def _fig(i: int):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot(np.arange(5) ** (i + 1))
    return fig


def _links_of(box: Explorer) -> list[tuple]:
    return [(link.source[0], link.source[1], link.target[0], link.target[1]) for link in box.links]


# --------------------------------------------------------------------------- unit tests

def test_figure_to_png_closes_and_is_small():
    fig = _fig(0)
    data = figure_to_png(fig)
    assert data.startswith(PNG)
    assert not plt.fignum_exists(fig.number)
    assert len(data) < 30_000
    fig2 = _fig(0)
    figure_to_png(fig2, close=False)
    assert plt.fignum_exists(fig2.number)
    plt.close(fig2)


def test_frame_to_image_accepts_arrays_bytes_and_figures():
    gray = frame_to_image(np.random.default_rng(0).random((28, 28)))
    rgb = frame_to_image((np.ones((10, 12, 3)) * 255).astype(np.uint8), min_size=0)
    rgba = frame_to_image(np.zeros((5, 5, 4)))
    png = frame_to_image(figure_to_png(_fig(1)))
    fig = frame_to_image(_fig(2), width=200)
    for w in (gray, rgb, rgba, png, fig):
        assert isinstance(w, widgets.Image)
        assert w.format == "png" and bytes(w.value).startswith(PNG)
    assert fig.width == "200"
    # a 28x28 array is enlarged to >= 128 px (nearest neighbour, integer factor 5)
    import matplotlib.image as mpimg

    assert mpimg.imread(io.BytesIO(gray.value)).shape[:2] == (140, 140)
    assert mpimg.imread(io.BytesIO(rgb.value)).shape[:2] == (10, 12)
    with pytest.raises(ValueError):
        frame_to_image(np.zeros((3, 4, 5)))
    with pytest.raises(ValueError):
        frame_to_image(b"not an image")
    with pytest.raises(TypeError):
        frame_to_image("a string")


def test_image_explorer_int_slider():
    frames = [_fig(i) for i in range(3)]
    box = image_explorer(frames, description="step", title="Loss curves")
    assert isinstance(box, widgets.VBox)
    assert plt.get_fignums() == []  # figures were closed after rasterising
    title, slider, stack = box.children
    assert isinstance(title, widgets.HTML) and "Loss curves" in title.value
    assert isinstance(slider, widgets.IntSlider)
    assert (slider.min, slider.max, slider.value, slider.description) == (0, 2, 0, "step")
    assert isinstance(stack, widgets.Stack) and stack is box.stack
    assert len(stack.children) == 3
    assert all(isinstance(c, widgets.Image) for c in stack.children)
    assert _links_of(box) == [(slider, "value", stack, "selected_index")]
    assert isinstance(box.links[0], Link)


def test_image_explorer_labels_selection_slider():
    box = image_explorer([np.zeros((8, 8))] * 3, labels=[0.5, 1.0, 4.0], description="beta")
    slider, stack = box.children  # no title
    assert isinstance(slider, widgets.SelectionSlider)
    assert [label for label, _ in slider.options] == ["0.5", "1", "4"]
    assert slider.index == 0 and slider.description == "beta"
    assert _links_of(box) == [(slider, "index", stack, "selected_index")]
    with pytest.raises(ValueError):
        image_explorer([np.zeros((8, 8))] * 3, labels=[1, 2])
    with pytest.raises(ValueError):
        image_explorer([])


def test_grid_explorer_nested_stacks():
    axes = {"prior": ["tv", "entropy"], "lambda": [0.01, 0.1, 1.0]}
    frames = {(p, lam): np.full((4, 4), i / 6) for i, (p, lam) in enumerate(
        (p, lam) for p in axes["prior"] for lam in axes["lambda"])}
    del frames[("entropy", 1.0)]
    box = grid_explorer(frames, axes, title="grid")
    _, prior, lam, outer = box.children
    assert isinstance(prior, widgets.ToggleButtons)  # strings -> toggle buttons
    assert isinstance(lam, widgets.SelectionSlider)  # numbers -> slider
    assert [label for label, _ in lam.options] == ["0.01", "0.1", "1"]
    assert box.controls == [prior, lam] and box.stack is outer
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 2
    for inner in outer.children:
        assert isinstance(inner, widgets.Stack) and len(inner.children) == 3
    assert isinstance(outer.children[0].children[2], widgets.Image)
    missing = outer.children[1].children[2]
    assert isinstance(missing, widgets.HTML) and "not computed" in missing.value
    links = _links_of(box)
    assert len(links) == 1 + 2
    assert (prior, "index", outer, "selected_index") in links
    for inner in outer.children:
        assert (lam, "index", inner, "selected_index") in links


def test_grid_explorer_three_axes_and_validation():
    axes = {"a": [1, 2], "b": ["x", "y", "z"], "c": [0.1, 0.2]}
    frames = {(a, b, c): np.zeros((4, 4)) for a in axes["a"] for b in axes["b"] for c in axes["c"]}
    box = grid_explorer(frames, axes, controls={"b": "dropdown"})
    assert isinstance(box.controls[1], widgets.Dropdown)
    assert len(box.links) == 1 + 2 + 2 * 3
    leaf = box.stack.children[1].children[2].children[0]
    assert isinstance(leaf, widgets.Image)
    with pytest.raises(ValueError):
        grid_explorer({(1, "w", 0.1): np.zeros((4, 4))}, axes)  # off the grid
    with pytest.raises(ValueError):
        grid_explorer({(1, "x"): np.zeros((4, 4))}, axes)  # wrong key length
    with pytest.raises(ValueError):
        grid_explorer({}, axes, controls="knob")


# --------------------------------------------------------------------------- static book, headless Chromium

def _widget_js_static(tmp_path: Path) -> Path:
    """A _static/ folder holding html-manager/embed.js (the repo's, else freshly fetched)."""
    static = REPO / "_static"
    if (static / "html-manager" / "embed.js").is_file():
        return static
    if shutil.which("npm") is None:
        pytest.skip(
            "no _static/html-manager/embed.js and no npm to fetch it: "
            "install npm and run tools/fetch_book_js.sh"
        )
    static = tmp_path / "_static"
    proc = subprocess.run(
        ["bash", str(REPO / "tools" / "fetch_book_js.sh"), str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        pytest.skip(f"tools/fetch_book_js.sh failed (offline?):\n{proc.stderr[-2000:]}")
    return static


_NOTEBOOK_CELL = """\
import sys
import numpy as np
import matplotlib.pyplot as plt
from repro_lib.widgets import image_explorer

print(sys.prefix)
frames = []
for i in range(3):
    fig, ax = plt.subplots(figsize=(2.5, 1.8))
    ax.plot(np.linspace(0, 1, 20) ** (i + 1))
    ax.set_title(f"power {i + 1}")
    frames.append(fig)
explorer = image_explorer(frames, description="power", title="Offline explorer")
# Distinguishable children; the slider starts at 2 while the Stack says 0: only the
# jslink, run by the widget manager in the browser, makes the Stack show child 2.
for i, image in enumerate(explorer.stack.children):
    image.width = str(150 + i)
explorer.controls[0].value = 2
explorer
"""

_GRID_CELL = """\
from repro_lib.widgets import grid_explorer

axes = {"prior": ["tv", "entropy"], "lambda": [0.01, 0.1, 1.0]}
frames = {(p, lam): np.full((8, 8), (a * 3 + b) / 6)
          for a, p in enumerate(axes["prior"]) for b, lam in enumerate(axes["lambda"])}
grid = grid_explorer(frames, axes, title="Offline grid")
# image (a, b) gets width 200 + 10 a + b; controls start at (1, 2), Stacks at (0, 0)
for a, inner in enumerate(grid.stack.children):
    for b, image in enumerate(inner.children):
        image.width = str(200 + 10 * a + b)
grid.controls[0].index = 1
grid.controls[1].index = 2
grid
"""

# Runs in the built page: presses ArrowLeft on the first slider's handle (as a
# user would) and writes the widths of the images shown before and after into #probe.
_PROBE_CELL = """\
<div id="probe">pending</div>
<script>
window.addEventListener("load", () => {
  let tries = 0;
  const timer = setInterval(() => {
    // wait for both explorers: the first slider's handle and one image each
    const handle = document.querySelector(".widget-hslider .noUi-handle");
    const ready = handle && document.querySelectorAll("img.widget-image").length >= 2;
    if (!ready && ++tries < 100) return;
    clearInterval(timer);
    const probe = document.getElementById("probe");
    if (!ready) { probe.textContent = "widgets-not-rendered"; return; }
    const shown = () => [...document.querySelectorAll("img.widget-image")].map(i => i.getAttribute("width")).join(",");
    const before = shown();
    handle.focus();
    handle.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowLeft", keyCode: 37, which: 37, bubbles: true}));
    setTimeout(() => { probe.textContent = "before:" + before + ";after:" + shown(); }, 500);
  }, 50);
});
</script>
"""


def _make_book(book: Path, static: Path) -> Path:
    import nbformat
    from nbclient import NotebookClient

    book.mkdir()
    shutil.copy(REPO / "_config.yml", book / "_config.yml")
    (book / "book").mkdir()
    (book / "book" / "references.bib").write_text("")  # _config.yml's bibtex_bibfiles
    (book / "_toc.yml").write_text("format: jb-book\nroot: explorer\n")
    shutil.copytree(static, book / "_static")
    if (static.parent / "_extra").is_dir():  # MathJax, named by _config.yml's html_extra_path
        shutil.copytree(static.parent / "_extra", book / "_extra")

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Explorer\n\nA precomputed widget."),
                nbformat.v4.new_code_cell(_NOTEBOOK_CELL),
                nbformat.v4.new_code_cell(_GRID_CELL),
                nbformat.v4.new_markdown_cell(_PROBE_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # The kernel is the current interpreter's (jupyter_client runs a kernelspec whose
    # argv[0] is "python" with sys.executable); it must import repro_lib from the repo.
    client = NotebookClient(
        nb, kernel_name="python3", timeout=180, store_widget_state=True,
        resources={"metadata": {"path": str(book)}},
    )
    client.execute(env={**os.environ,
                        "PYTHONPATH": os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH")] if p)})
    out_text = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert out_text.strip() == sys.prefix, "the notebook did not run in this virtualenv's kernel"
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert state.get("state"), "nbclient saved no widget state in the notebook"
    for cell in nb.cells[1:3]:
        assert any(o.get("data", {}).get("application/vnd.jupyter.widget-view+json")
                   for o in cell.outputs), "a cell displayed no widget view"
    nbformat.write(nb, book / "explorer.ipynb")
    return book


def _jupyter_book_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


@pytest.mark.slow
def test_static_book_renders_widgets_offline(tmp_path):
    chromium()  # skips without a browser, before the slow build
    static = _widget_js_static(tmp_path)
    book = _make_book(tmp_path / "book", static)

    proc = subprocess.run(
        [*_jupyter_book_cmd(), "build", str(book), "--builder", "html"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"jupyter-book build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    page = book / "_build" / "html" / "explorer.html"
    assert page.is_file()
    html = page.read_text()
    # the page carries the widget state and loads only the local manager, no CDN
    assert 'type="application/vnd.jupyter.widget-state+json"' in html
    assert 'src="_static/html-manager/embed.js' in html
    assert html.count("html-manager/embed.js") == 1
    assert "cdn.jsdelivr.net" not in html and "require.min.js" not in html
    assert (book / "_build" / "html" / "_static" / "html-manager" / "embed.js").is_file()

    dom = dump_dom(page)
    # rendered by the html manager, not just the embedded JSON state
    assert class_present(dom, "jupyter-widgets"), "no widget was rendered (is embed.js loading?)"
    assert class_present(dom, "widget-slider"), "the slider was not rendered"
    assert class_present(dom, "widget-image"), "the Stack's image was not rendered"
    assert "<b>Offline explorer</b>" in dom and "<b>Offline grid</b>" in dom  # HTML title widgets
    probe = re.search(r'<div id="probe">([^<]*)</div>', dom)
    assert probe, "probe element missing"
    # Widths of the shown images (explorer: 150 + i; grid: 200 + 10 a + b).
    # before: the jslinks ran in the browser at load: the explorer's slider (2) picked
    #   image 2, not the Stack's saved index 0; the grid's nested Stacks picked (1, 2);
    # after: ArrowLeft on the slider switched the image 2 -> 1 in the page, no kernel.
    assert probe.group(1) == "before:152,212;after:151,212", probe.group(1)
