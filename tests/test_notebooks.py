"""Every notebook in analyses/ runs top to bottom (fast setting) and its assertions hold; the
stored notebooks carry their outputs, so they show their figures where they are read."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "analyses").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MIRAGE_FAST", "1")
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # run from scratch: nothing of the stored run carries over
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = nbclient.NotebookClient(
        notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    assert (tmp_path / "figures").is_dir()


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_notebooks_show_their_figures(path):
    """Stored executed, without errors, every figure a PNG small enough for a code host."""
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "store the notebook executed"
    outputs = [o for cell in code for o in cell.outputs]
    assert not [o for o in outputs if o["output_type"] == "error"]
    images = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert images, "a notebook shows at least one figure"
    assert max(len(image) for image in images) < 400_000  # base64 of a PNG under 300 KB


@pytest.mark.slow
def test_a_returned_figure_displays_as_a_picture_in_a_fresh_kernel(tmp_path):
    """No ``%matplotlib inline``, no ``pyplot``: the figure still shows, as ArviZ's do."""
    cell = nbformat.v4.new_code_cell(
        "from mirage_bayes.fitting.theory import plot_mirage_model\nplot_mirage_model()"
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    (output,) = [o for o in notebook.cells[0].outputs if o["output_type"] == "execute_result"]
    assert "image/png" in output["data"]
