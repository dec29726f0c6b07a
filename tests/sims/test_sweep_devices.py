"""The same sweep on 1 device (this process) and on 8 fake CPU devices (a subprocess) gives identical results."""

import json

import sweep_support as sup

from lazyrich import sims


def test_eight_fake_devices_match_one_device(tmp_path):
    path = sup.write(tmp_path)
    out = tmp_path / "out8"
    # Chunk size 5 is not a multiple of 8: every chunk is padded to 8 points and the padding dropped.
    proc = sup.run_cli(
        "sweep",
        "run",
        str(path),
        "--out",
        str(out),
        "--quiet",
        "--chunk-size",
        "5",
        env_vars=sup.env(devices=8),
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(p.read_text()) for p in sorted((out / "chunks").glob("*.json"))]
    assert len(records) == 7 and all(r["num_devices"] == 8 for r in records)
    one_device = sims.run_sweep(path, progress=False)  # this process: 1 CPU device
    sup.assert_same_results(sims.load_results(out), one_device)
