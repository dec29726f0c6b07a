"""The notebook tour: `examples/tour.ipynb` is the paired copy of `examples/tour.py` and runs end to end."""

import os
import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT, NOTEBOOK = ROOT / "examples" / "tour.py", ROOT / "examples" / "tour.ipynb"


def test_notebook_is_the_paired_script_without_outputs():
    jupytext = pytest.importorskip("jupytext")
    script = jupytext.read(SCRIPT)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in notebook.cells] == [
        (c.cell_type, c.source) for c in script.cells
    ], "regenerate with `jupytext --to ipynb examples/tour.py -o examples/tour.ipynb`"
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in notebook.cells
        if c.cell_type == "code"
    )


def test_tour_executes_with_small_settings(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    # The kernel inherits this environment: small settings, headless plots, the source tree importable.
    monkeypatch.setenv("LAZYRICH_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=1200,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = "".join(
        o.get("text", "")
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "mean seed-to-seed spread of the NTK" in outputs and "status counts" in outputs
