"""Two processes with jax.distributed (CPU collectives, loopback coordinator) share one sweep folder."""

import json
import subprocess

import sweep_support as sup

from lazyrich import sims


def test_two_processes_complete_a_sweep_together_each_point_once(tmp_path):
    path = sup.write(tmp_path)
    out = tmp_path / "out"
    port = sup.free_port()
    procs = []
    for i in range(2):
        args = [
            "sweep",
            "run",
            str(path),
            "--out",
            str(out),
            "--quiet",
            "--chunk-size",
            "4",
            "--distributed",
            "--coordinator",
            f"127.0.0.1:{port}",
            "--num-processes",
            "2",
            "--process-id",
            str(i),
            "--report",
            str(tmp_path / f"report{i}.json"),
        ]
        procs.append(
            subprocess.Popen(
                sup.cli(*args),
                env=sup.env(),
                cwd=sup.ROOT,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
    reports = [json.loads((tmp_path / f"report{i}.json").read_text()) for i in range(2)]
    assert [(r["process_index"], r["process_count"]) for r in reports] == [(0, 2), (1, 2)]
    computed = reports[0]["computed_chunks"] + reports[1]["computed_chunks"]
    # 32 points in chunks of 4: 8 chunks, each computed by exactly one process (chunk i -> process i % 2).
    assert sorted(computed) == [f"g0000-c{i:06d}" for i in range(8)]
    assert len(set(computed)) == len(computed) == 8
    for record in (json.loads(p.read_text()) for p in (out / "chunks").glob("*.json")):
        assert record["process_index"] == record["id"] % 2
    status = sims.sweep_status(out)
    assert status["points_done"] == status["points_total"] == 32
    assert status["chunks_by_process"] == {"0": 4, "1": 4}
    sup.assert_same_results(sims.load_results(out), sims.run_sweep(path, progress=False))
