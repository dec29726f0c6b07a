"""Damaged sweep folders: checksums find the damage, `status` names the files, `run` repairs bit for bit."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import sweep_support as sup

from lazyrich import _cli, _version, sims
from lazyrich._errors import DataFileError


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The TINY sweep (4 chunks of 8 points) computed in memory: the undamaged result."""
    return sims.run_sweep(sup.write(tmp_path_factory.mktemp("ref")), progress=False)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The TINY sweep stored in a folder (copied by each test before it damages it)."""
    folder = tmp_path_factory.mktemp("stored")
    config = sup.write(folder)
    assert _cli.main(["sweep", "run", str(config), "--out", str(folder / "out"), "--quiet"]) == 0
    return config, folder / "out"


def _copy(stored, tmp_path):
    config, out = stored
    shutil.copytree(out, tmp_path / "out")
    return config, tmp_path / "out"


def _damage(chunks):
    """Four kinds of damage, one per chunk; returns chunk name -> (file name, phrase in the report)."""
    data = bytearray((chunks / "g0000-c000000.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    (chunks / "g0000-c000000.npz").write_bytes(bytes(data))
    raw = (chunks / "g0000-c000001.npz").read_bytes()
    (chunks / "g0000-c000001.npz").write_bytes(raw[: len(raw) // 3])  # truncated
    (chunks / "g0000-c000002.npz").unlink()  # lost, its record intact
    (chunks / "g0000-c000003.json").write_text('{"chunk": "g0000-c0')  # record cut short
    return {
        "g0000-c000000": ("g0000-c000000.npz", "does not match the checksum"),
        "g0000-c000001": ("g0000-c000001.npz", "truncated"),
        "g0000-c000002": ("g0000-c000002.npz", "is missing"),
        "g0000-c000003": ("g0000-c000003.json", "cannot be read"),
    }


def test_checksums_are_recorded_and_an_undamaged_folder_reports_no_damage(stored):
    _, out = stored
    record = json.loads((out / "chunks" / "g0000-c000002.json").read_text())
    import hashlib

    data = (out / "chunks" / "g0000-c000002.npz").read_bytes()
    assert record["npz_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["npz_bytes"] == len(data)
    status = sims.sweep_status(out)
    assert status["damaged_chunks"] == {} and status["complete"]


def test_status_names_damaged_files_load_refuses_run_repairs_bit_for_bit(
    stored, reference, tmp_path, capsys
):
    config, out = _copy(stored, tmp_path)
    expected = _damage(out / "chunks")
    # status: every damaged chunk by its file name, and the folder is not complete.
    assert _cli.main(["sweep", "status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "damaged: 4 chunk(s)" in text and "[complete]" not in text
    for file, phrase in expected.values():
        line = next(line for line in text.splitlines() if file in line)
        assert phrase in line, line
    status = sims.sweep_status(out)
    assert sorted(status["damaged_chunks"]) == sorted(expected)
    assert status["points_done"] == 0 and not status["complete"]
    # load_results: names the files, or loads the rest with the damaged points missing.
    with pytest.raises(DataFileError, match="g0000-c000000.npz") as info:
        sims.load_results(out)
    assert all(file in str(info.value) for file, _ in expected.values())
    assert "damaged='missing'" in str(info.value) and "sweep run" in str(info.value)
    with pytest.warns(UserWarning, match="left out 4 damaged chunk"):
        partial = sims.load_results(out, damaged="missing")
    assert np.all(partial.status.values == -1) and partial.attrs["points_done"] == 0
    assert json.loads(partial.attrs["damaged_chunks"]) == sorted(expected)
    with pytest.raises(ValueError, match="`damaged` must be one of"):
        sims.load_results(out, damaged="ignore")
    # run: recomputes exactly the damaged chunks; the result equals the undamaged run bit for bit.
    assert _cli.main(["sweep", "run", str(config), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "computed 4 chunks (32 points)" in captured.out
    assert "recomputing 4 damaged chunk(s)" in captured.err and "g0000-c000001.npz" in captured.err
    assert sims.sweep_status(out)["damaged_chunks"] == {}
    sup.assert_same_results(sims.load_results(out), reference)


def test_partial_damage_marks_only_those_points_missing(stored, reference, tmp_path):
    _, out = _copy(stored, tmp_path)
    chunks = out / "chunks"
    (chunks / "g0000-c000001.npz").write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="g0000-c000001.npz"):
        ds = sims.load_results(out, damaged="missing")
    record = json.loads((chunks / "g0000-c000001.json").read_text())
    lost = np.zeros(32, bool)
    lost[record["start"] : record["stop"]] = True
    lost = lost.reshape(ds.status.shape)  # one group: the chunk range is the C-order flat index
    assert np.all(ds.status.values[lost] == -1)
    np.testing.assert_array_equal(ds.status.values[~lost], reference.status.values[~lost])
    np.testing.assert_array_equal(ds.loss.values[~lost], reference.loss.values[~lost])
    assert np.all(np.isnan(ds.loss.values[lost]))


def test_unreadable_chunk_without_checksum_is_named(stored, tmp_path):
    """A chunk of the checksum-less format 1 that no longer unzips: the error names the file."""
    _, out = _copy(stored, tmp_path)
    path = out / "chunks" / "g0000-c000002.json"
    record = json.loads(path.read_text())
    del record["npz_sha256"], record["npz_bytes"]
    path.write_text(json.dumps(record))
    (out / "chunks" / "g0000-c000002.npz").write_bytes(b"PK\x03\x04 garbage")
    assert sims.sweep_status(out)["damaged_chunks"] == {}  # undetectable without a checksum ...
    with pytest.raises(DataFileError, match=r"g0000-c000002\.npz is not a readable chunk file"):
        sims.load_results(out)  # ... until it is read


@pytest.mark.parametrize("text", ['{"format": 2, "experi', "[1, 2]", '{"format": 2}'])
def test_damaged_manifest_is_named_and_rebuilt_by_run(stored, reference, tmp_path, capsys, text):
    config, out = _copy(stored, tmp_path)
    (out / "manifest.json").write_text(text)
    with pytest.raises(DataFileError, match="manifest.json is damaged"):
        sims.load_results(out)
    assert _cli.main(["sweep", "status", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'manifest.json'} is damaged" in err and "Traceback" not in err
    assert _cli.main(["sweep", "run", str(config), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "computed 0 chunks" in captured.out and "rebuilding it" in captured.err
    sup.assert_same_results(sims.load_results(out), reference)


def test_damaged_manifest_of_another_sweep_is_refused(stored, tmp_path, capsys):
    _, out = _copy(stored, tmp_path)
    (out / "manifest.json").write_text("{")
    other = sup.write(tmp_path, sup.TINY.replace("num_steps = 20", "num_steps = 30"), "other.toml")
    assert _cli.main(["sweep", "run", str(other), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "manifest.json is damaged" in err and "belongs to another sweep" in err


# ----------------------------------------------------------------------------------------------------------------
# Provenance: lazyrich's own version, and its commit only from a source checkout of lazyrich itself


def _git(cwd, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def git():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    return _git


def test_commit_is_recorded_only_for_a_source_checkout_of_lazyrich(tmp_path, git):
    user = tmp_path / "user-project"  # a user's own repository with lazyrich installed inside it
    package = user / ".venv" / "lib" / "python3.11" / "site-packages" / "lazyrich"
    package.mkdir(parents=True)
    (user / "pyproject.toml").write_text('[project]\nname = "my-analysis"\n')
    git(user, "init", "-q")
    git(user, "add", "pyproject.toml")
    git(user, "commit", "-qm", "user")
    assert _version.source_commit(package) == {}
    vendored = user / "lazyrich"  # a copy of the package at the top of the user's repository
    vendored.mkdir()
    assert _version.source_commit(vendored) == {}
    checkout = tmp_path / "lazyrich-src"  # lazyrich's own checkout
    (checkout / "lazyrich").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "lazyrich"\n')
    (checkout / "lazyrich" / "__init__.py").write_text("")
    git(checkout, "init", "-q")
    git(checkout, "add", ".")
    git(checkout, "commit", "-qm", "lazyrich")
    info = _version.source_commit(checkout / "lazyrich")
    assert info == {"lazyrich_commit": git(checkout, "rev-parse", "HEAD"), "lazyrich_dirty": False}
    (checkout / "lazyrich" / "__init__.py").write_text("x = 1\n")
    _version.source_commit.cache_clear()
    assert _version.source_commit(checkout / "lazyrich")["lazyrich_dirty"] is True


def test_manifest_records_lazyrich_version_and_own_commit_only(stored):
    _, out = stored
    provenance = json.loads((out / "manifest.json").read_text())["provenance"]
    assert provenance["lazyrich_version"] == _version.__version__
    assert "git_commit" not in provenance
    own = _version.source_commit()
    assert provenance.get("lazyrich_commit") == own.get("lazyrich_commit")
    assert sims.provenance().get("lazyrich_commit") == own.get("lazyrich_commit")  # figures' JSON
    if (_version.PACKAGE_DIR.parent / ".git").exists():  # this test runs from lazyrich's checkout
        assert own["lazyrich_commit"] == _git(_version.PACKAGE_DIR.parent, "rev-parse", "HEAD")
