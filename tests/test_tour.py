"""The notebook tour: `examples/tour.ipynb` is the paired copy of `examples/tour.py` and runs end to end at its
own (only) setting, checked against what it claims: the NTK spread shrinks like width^-1/2, every sweep point
is computed, the kernel stays under 4 GB, and no progress-bar warning (ipywidgets is in the `notebook` extra).
"""

import os
import pathlib
import re
import time

import nbclient  # the `notebook` extra (part of `test`): this test is never skipped
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


def test_tour_executes_at_its_default_setting(tmp_path, monkeypatch):
    # The kernel inherits this environment: headless plots, the source tree importable. No size knob.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("LAZYRICH_QUICK", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=1200,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    streams = [
        (o.get("name"), o.get("text", ""))
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    stdout = "".join(text for name, text in streams if name == "stdout")
    stderr = "".join(text for name, text in streams if name == "stderr")
    # 1. Spread of the empirical NTK over 10 seeds, width 64 vs 1,024: width^-1/2 predicts 4; the bounds
    #    exclude width^-1/4 (2) and width^-1 (16).
    ratio = float(re.search(r"spread ratio, width 64 / width 1024: ([0-9.]+)", stdout).group(1))
    assert 2.5 < ratio < 6.5, ratio
    # 2. Every one of the 6 x 5 x 2 sweep points was computed (status -1 = missing).
    counts = eval(re.search(r"status counts: (\{.*\})", stdout).group(1))  # a dict of ints
    assert sum(counts.values()) == 60 and -1 not in counts, counts
    # 3. Memory: the kernel's peak resident set, as the notebook reports it.
    peak = float(re.search(r"peak memory of this kernel: ([0-9.]+) GiB", stdout).group(1))
    assert peak < 4.0, f"peak {peak} GiB"
    # 4. tqdm found ipywidgets (no "IProgress not found" warning).
    assert "IProgress" not in stderr and "TqdmWarning" not in stderr, stderr[-2000:]
    print(f"tour: {wall:.0f} s, peak {peak:.2f} GiB, NTK spread ratio {ratio:.2f}")
