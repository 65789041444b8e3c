"""Every notebook in analyses/ runs top to bottom (fast setting) and its assertions hold."""

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
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "notebooks are stored without outputs"
    )
    client = nbclient.NotebookClient(
        notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    assert (tmp_path / "figures").is_dir()


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.slow
def test_a_returned_figure_displays_as_a_picture_in_a_fresh_kernel(tmp_path):
    """No ``%matplotlib inline``, no ``pyplot``: the figure still shows, as ArviZ's do."""
    cell = nbformat.v4.new_code_cell(
        "from mirage_bayes.theory import plot_mirage_model\nplot_mirage_model()"
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    (output,) = [o for o in notebook.cells[0].outputs if o["output_type"] == "execute_result"]
    assert "image/png" in output["data"]
