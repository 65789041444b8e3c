"""Never lose a user's data: what ``--force`` may replace, claims, stale staging folders, umask.

* ``--force`` replaces only a folder that carries mirage-bayes's marker file; the current folder,
  an input's folder or a folder holding an input are refused even with the marker.
* A run claims its destination when it starts: a second run into it fails at once.
* Staging folders of killed runs are removed by the next run into the same destination.
* Result folders follow the umask; Ctrl-C leaves the previous results untouched.

Everything here fails or stops before sampling, so no test runs the sampler.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pymc  # noqa: F401  (imported up front so its import-time logging is not seen as CLI output)
import pytest

import mirage_bayes.cli.fit_command
import mirage_bayes.output.destination as destination
from mirage_bayes import __version__
from mirage_bayes.errors import InputError
from mirage_bayes.output.destination import (
    MARKER,
    check_destination,
    claim_destination,
    read_marker,
    release_all,
    staged_folder,
)

from support import EXAMPLE, one_error_line, run_main


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def hidden(parent: Path, name: str) -> list[str]:
    """Staging, backup and lock files of destination ``name``."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def marked_results(folder: Path) -> dict[str, bytes]:
    """A previous mirage-bayes result folder (with the marker)."""
    folder.mkdir(parents=True)
    marker = {"tool": "mirage-bayes", "command": "fit", "version": __version__, "pid": 1,
              "files": ["summary.csv"]}  # fmt: skip
    (folder / MARKER).write_text(json.dumps(marker))
    (folder / "summary.csv").write_text("previous,results\n1,2\n")
    return snapshot(folder)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ------------------------------------------------------------------------------------------
# What --force may replace (the cases users found)
# ------------------------------------------------------------------------------------------


def test_force_never_replaces_the_current_folder(tmp_path, monkeypatch, capsys):
    shutil.copy(EXAMPLE, tmp_path / "o.csv")
    (tmp_path / "unrelated.txt").write_text("mine")
    (tmp_path / MARKER).write_text('{"tool": "mirage-bayes"}')  # even a marked one
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_main(["fit", "o.csv", "--out", ".", "--force", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "current folder" in line and "choose another --out" in line
    assert snapshot(tmp_path) == before
    assert hidden(tmp_path.parent, tmp_path.name) == []


def test_force_never_replaces_an_ancestor_of_the_current_folder(tmp_path, monkeypatch, capsys):
    inner = tmp_path / "work"
    inner.mkdir()
    monkeypatch.chdir(inner)
    assert run_main(["fit", EXAMPLE, "--out", tmp_path, "--force", "--quiet"]) == 2
    assert "current folder" in one_error_line(capsys)
    assert inner.is_dir()


def test_force_never_replaces_an_input_folder(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "samples_arith_2024-01-01T00-00-00.jsonl").write_text('{"doc_id": 0}\n')
    (logs / MARKER).write_text('{"tool": "mirage-bayes"}')  # marked, still an input
    before = snapshot(logs)
    assert run_main(["fit", logs, "--out", logs, "--force", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "contains the input" in line and str(logs) in line
    assert snapshot(logs) == before


def test_force_never_replaces_a_folder_holding_an_input(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    table = data / "o.csv"
    shutil.copy(EXAMPLE, table)
    before = snapshot(data)
    assert run_main(["fit", table, "--out", data, "--force", "--quiet"]) == 2
    assert "contains the input" in one_error_line(capsys)
    assert snapshot(data) == before
    # The --params table is an input too, and so are the inputs of forecast and meta.
    params = data / "sizes.csv"
    params.write_text("model,n_params\n125M,1.25e8\n")
    out = tmp_path / "out"
    marked_results(out)
    shutil.copy(EXAMPLE, out / "o.csv")
    assert run_main(["fit", EXAMPLE, "--params", out / "o.csv", "--out", out, "--force"]) == 2
    assert "contains the input" in one_error_line(capsys)
    assert run_main(["forecast", table, "--out", data, "--force", "--quiet"]) == 2
    assert "contains the input" in one_error_line(capsys)
    assert run_main(["meta", table, "--out", tmp_path, "--force", "--quiet"]) == 2
    assert "contains the input" in one_error_line(capsys)
    assert snapshot(data) == {**before, "sizes.csv": params.read_bytes()}


def test_force_refuses_a_folder_mirage_bayes_did_not_write(tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("not ours")
    assert run_main(["fit", EXAMPLE, "--out", out, "--force", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert str(out) in line
    assert "not a mirage-bayes result folder" in line and "choose another --out" in line
    assert (out / "keep.txt").read_text() == "not ours"
    assert hidden(tmp_path, "results") == []
    # Without --force the line says that --force would not help either.
    assert run_main(["forecast", EXAMPLE, "--out", out, "--quiet"]) == 2
    assert "only a folder mirage-bayes wrote" in one_error_line(capsys)


def test_check_destination_rules(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_destination(empty, force=False) == empty  # an empty folder may be used
    assert check_destination(tmp_path / "new" / "deeper", force=False)
    ours = tmp_path / "ours"
    marked_results(ours)
    with pytest.raises(InputError, match=r"not empty.*--force \(force=True in Python\)"):
        check_destination(ours, force=False)
    assert check_destination(ours, force=True) == ours
    (ours / "my_notes.txt").write_text("a user's file, added after the run")
    (ours / "mine").mkdir()
    with pytest.raises(InputError, match=r"did not write \(mine, my_notes.txt\)"):
        check_destination(ours, force=True)
    (ours / "my_notes.txt").unlink()
    (ours / "mine").rmdir()
    (ours / MARKER).write_text('{"tool": "mirage-bayes"}')  # an older marker lists no files
    with pytest.raises(InputError, match="does not list the files"):
        check_destination(ours, force=True)
    (ours / MARKER).write_text('{"tool": "something else"}')
    with pytest.raises(InputError, match="not a mirage-bayes result folder"):
        check_destination(ours, force=True)
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_destination(file, force=True)


def test_force_keeps_a_file_the_user_added_to_a_result_folder(tmp_path, capsys):
    out = tmp_path / "res"
    assert run_main(["fit", EXAMPLE, "--out", out, "--draws", "100", "--tune", "100",
                     "--quiet", "--trends", "power_law"]) in (0, 3)  # fmt: skip
    listed = json.loads((out / MARKER).read_text())["files"]
    assert "summary.csv" in listed and "figures" in listed and MARKER not in listed
    (out / "mydata").mkdir()
    (out / "mydata" / "keep.csv").write_text("x\n")
    before = snapshot(out)
    capsys.readouterr()
    assert run_main(["fit", EXAMPLE, "--out", out, "--force", "--quiet"]) == 2
    assert "did not write (mydata, mydata/keep.csv)" in one_error_line(capsys)
    assert snapshot(out) == before
    # What plan writes into a fit folder is listed too: --force may then replace the folder.
    shutil.rmtree(out / "mydata")
    assert run_main(["plan", out, "--length", "3"]) == 0
    assert {"plan.csv", "plan.png"} <= set(json.loads((out / MARKER).read_text())["files"])
    assert check_destination(out, force=True) == out  # nothing in it the tools did not write


def test_input_through_a_link_is_recognised(tmp_path):
    data = tmp_path / "data"
    marked_results(data)
    shutil.copy(EXAMPLE, data / "o.csv")
    link = tmp_path / "link"
    link.symlink_to(data)
    with pytest.raises(InputError, match="contains the input"):
        check_destination(link, force=True, inputs=[data / "o.csv"])
    with pytest.raises(InputError, match="contains the input"):
        check_destination(data, force=True, inputs=[link / "o.csv"])


def test_plan_force_overwrites_only_its_own_files(tmp_path, capsys):
    mine = tmp_path / "data.csv"
    mine.write_text("my,own\n1,2\n")
    args = ["plan", "--epsilon", "0.5", "--length", "5", "--out", mine, "--force"]
    assert run_main(args) == 2
    assert "not a plan written by mirage-bayes" in one_error_line(capsys)
    assert mine.read_text() == "my,own\n1,2\n"
    out = tmp_path / "plan.csv"
    assert run_main([*args[:-3], "--out", out]) == 0
    assert run_main([*args[:-3], "--out", out, "--force"]) == 0  # its own files: replaced
    capsys.readouterr()
    (tmp_path / "plan.png").write_bytes(b"\x89PNG\r\n\x1a\n somebody's figure")
    assert run_main([*args[:-3], "--out", out, "--force"]) == 2
    assert "plan.png" in one_error_line(capsys)


# ------------------------------------------------------------------------------------------
# The marker and the umask
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_result_folder_has_marker_and_follows_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        with staged_folder(tmp_path / "nested" / "results", force=False, command="forecast") as s:
            (s / "forecast.csv").write_text("a\n1\n")
            (s / "figures").mkdir()
    finally:
        os.umask(previous)
    dest = tmp_path / "nested" / "results"
    assert dest.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (dest / "figures").stat().st_mode & 0o777 == 0o777 & ~umask
    marker = read_marker(dest)
    assert marker["command"] == "forecast" and marker["version"] == __version__
    assert marker["created"] and marker["pid"] == os.getpid()
    assert hidden(dest.parent, "results") == []


def test_an_existing_empty_folder_is_used(tmp_path):
    dest = tmp_path / "results"
    dest.mkdir()
    with staged_folder(dest, force=False) as staging:
        (staging / "summary.csv").write_text("new\n")
    assert (dest / "summary.csv").read_text() == "new\n" and read_marker(dest)
    # A second run replaces it with --force only, since it now holds results.
    with pytest.raises(InputError, match="not empty"), staged_folder(dest, force=False):
        pass
    with staged_folder(dest, force=True) as staging:
        (staging / "summary.csv").write_text("newer\n")
    assert (dest / "summary.csv").read_text() == "newer\n"
    assert hidden(tmp_path, "results") == []


# ------------------------------------------------------------------------------------------
# Claims
# ------------------------------------------------------------------------------------------


def test_a_second_claim_of_a_destination_fails_at_once(tmp_path, monkeypatch):
    dest = tmp_path / "results"
    claim_destination(dest, force=False)
    assert (tmp_path / ".results.lock").is_file()
    claim_destination(dest, force=False)  # the same run again: kept
    with monkeypatch.context() as patch:
        patch.setattr(destination, "_CLAIMS", {})  # as seen by another run
        with pytest.raises(InputError, match="another mirage-bayes run is writing"):
            claim_destination(dest, force=True)
        with (
            pytest.raises(InputError, match="another mirage-bayes run"),
            staged_folder(dest, force=False),
        ):
            pass
    release_all()
    assert hidden(tmp_path, "results") == []
    claim_destination(dest, force=False)  # free again once released
    release_all()


def test_a_second_run_into_the_same_destination_fails_and_keeps_the_first(tmp_path, capsys):
    dest = tmp_path / "results"
    before = marked_results(dest)
    lock = tmp_path / ".results.lock"
    with lock.open("w") as held:  # the first run, still working
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert run_main(["fit", EXAMPLE, "--out", dest, "--force", "--quiet"]) == 2
        line = one_error_line(capsys)
        assert "another mirage-bayes run is writing this folder" in line and str(dest) in line
    assert snapshot(dest) == before


def test_a_failed_run_releases_its_claim_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "new" / "results"

    def broken(*args, **kwargs):
        raise InputError("broken table")

    monkeypatch.setattr(mirage_bayes.cli.fit_command, "read_inputs", broken)
    assert run_main(["fit", EXAMPLE, "--out", dest, "--quiet"]) == 2
    assert "broken table" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []  # nor the parent folder the claim made


def test_staged_folder_failure_keeps_previous_results(tmp_path):
    dest = tmp_path / "results"
    before = marked_results(dest)
    with pytest.raises(RuntimeError), staged_folder(dest, force=True) as staging:
        (staging / "summary.csv").write_text("half")
        raise RuntimeError("boom")
    assert snapshot(dest) == before
    assert hidden(tmp_path, "results") == []


# ------------------------------------------------------------------------------------------
# Ctrl-C
# ------------------------------------------------------------------------------------------


def test_ctrl_c_before_saving(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "results"
    before = marked_results(dest)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mirage_bayes.cli.fit_command, "read_inputs", interrupted)
    assert run_main(["fit", EXAMPLE, "--out", dest, "--force", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "mirage-bayes: interrupted; nothing was written"
    assert snapshot(dest) == before
    assert hidden(tmp_path, "results") == []


def test_ctrl_c_during_the_final_renames_undoes_them(tmp_path, monkeypatch):
    dest = tmp_path / "results"
    before = marked_results(dest)
    handler = signal.getsignal(signal.SIGINT)
    real = Path.rename

    def rename(self, target):  # Ctrl-C arrives right after the new results moved into place
        done = real(self, target)
        signal.raise_signal(signal.SIGINT)
        return done

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt), staged_folder(dest, force=True) as staging:
        (staging / "summary.csv").write_text("new")
    assert snapshot(dest) == before
    assert hidden(tmp_path, "results") == []
    assert signal.getsignal(signal.SIGINT) is handler


# ------------------------------------------------------------------------------------------
# What killed runs left behind
# ------------------------------------------------------------------------------------------


def leftover(parent: Path, name: str, pid: int, **marker) -> Path:
    folder = parent / name
    folder.mkdir()
    content = {"tool": "mirage-bayes", "pid": pid, "host": socket.gethostname(),
               "files": ["summary.csv"], **marker}  # fmt: skip
    (folder / MARKER).write_text(json.dumps(content))
    (folder / "summary.csv").write_text("partial")
    return folder


def test_stale_staging_folders_of_dead_runs_are_removed(tmp_path):
    dead, alive = dead_pid(), os.getppid()
    stale = leftover(tmp_path, f".results.staging-{dead}-0a1b2c3d", dead, destination="results")
    running = leftover(tmp_path, f".results.staging-{alive}-0a1b2c3d", alive, destination="results")
    other = leftover(tmp_path, f".other.staging-{dead}-0a1b2c3d", dead, destination="other")
    unmarked = tmp_path / f".results.staging-{dead}-deadbeef"
    unmarked.mkdir()
    (unmarked / "user.txt").write_text("not ours")
    claim_destination(tmp_path / "results", force=False)
    release_all()
    assert not stale.exists()
    assert running.exists() and other.exists() and (unmarked / "user.txt").exists()


def test_previous_results_moved_aside_by_a_killed_run_are_put_back(tmp_path):
    dead = dead_pid()
    old = leftover(tmp_path, f".results.old-{dead}-0a1b2c3d", 1, destination="results")
    claim_destination(tmp_path / "results", force=True)
    release_all()
    assert not old.exists()
    assert (tmp_path / "results" / "summary.csv").read_text() == "partial"


def test_a_killed_save_is_cleaned_up_by_the_next_run(tmp_path):
    dest = tmp_path / "results"
    script = (
        "import os, signal, sys\n"
        "from mirage_bayes.output.destination import staged_folder\n"
        "with staged_folder(sys.argv[1], force=False) as staging:\n"
        "    (staging / 'summary.csv').write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(dest)], timeout=120)
    assert killed.returncode == -signal.SIGKILL
    left = hidden(tmp_path, "results")
    assert ".results.lock" in left and any(n.startswith(".results.staging-") for n in left)
    assert not dest.exists()
    with staged_folder(dest, force=False) as staging:  # the lock of a killed run is free
        (staging / "summary.csv").write_text("complete")
    assert (dest / "summary.csv").read_text() == "complete"
    assert hidden(tmp_path, "results") == []


# ------------------------------------------------------------------------------------------
# Every writer: fit (above), forecast and meta
# ------------------------------------------------------------------------------------------


def stub_forecast():
    import pandas as pd
    from matplotlib.figure import Figure

    table = pd.DataFrame({"task": ["arith"], "value": [1.0]})
    return SimpleNamespace(
        table=lambda: table, diagnostics=lambda: table, meta={"seed": 0}, ok=True,
        verdicts=lambda: {"arith": "fine"}, plot=lambda task: Figure(figsize=(1, 1)),
    )  # fmt: skip


def stub_meta():
    import pandas as pd

    return SimpleNamespace(
        table=pd.DataFrame({"task": ["t"]}), by_metric=pd.DataFrame({"metric": ["accuracy"]}),
        summary={"n_triplets": 1}, config=SimpleNamespace(to_dict=dict), meta={},
    )  # fmt: skip


@pytest.mark.parametrize("command", ["forecast", "meta"])
def test_forecast_and_meta_folders_are_marked_and_guarded(tmp_path, command):
    from mirage_bayes.forecast.save import save_forecast
    from mirage_bayes.meta.report import save_meta

    def write(dest, force):
        if command == "forecast":
            return save_forecast(stub_forecast(), dest, force=force, report=False)
        return save_meta(stub_meta(), dest, force=force, report=False)

    dest = write(tmp_path / "results", False)
    assert read_marker(dest)["command"] == command
    before = snapshot(dest)
    with pytest.raises(InputError, match="not empty"):
        write(dest, False)
    assert write(dest, True) == dest and snapshot(dest).keys() == before.keys()
    (dest / MARKER).unlink()
    with pytest.raises(InputError, match="not a mirage-bayes result folder"):
        write(dest, True)
    assert hidden(tmp_path, "results") == []


@pytest.mark.usefixtures("ctrl_c_interrupts")
@pytest.mark.parametrize("quiet", [True, False])
def test_ctrl_c_swallowed_by_the_sampler_still_stops_the_run(tmp_path, monkeypatch, capsys, quiet):
    # PyMC catches the KeyboardInterrupt of a Ctrl-C and returns a shortened trace.
    dest = tmp_path / "results"
    before = marked_results(dest)
    saved = []

    def swallowing_fit(*args, log, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
        if not quiet:
            log("sampling the next trend")
        return SimpleNamespace(save=lambda *a, **k: saved.append(a))

    monkeypatch.setattr("mirage_bayes.cli.fit_command.fit", swallowing_fit)
    handler = signal.getsignal(signal.SIGINT)
    argv = ["fit", EXAMPLE, "--out", dest, "--force", *(["--quiet"] if quiet else [])]
    assert run_main(argv) == 130
    assert capsys.readouterr().err.strip() == "mirage-bayes: interrupted; nothing was written"
    assert saved == [] and snapshot(dest) == before
    assert hidden(tmp_path, "results") == []
    assert signal.getsignal(signal.SIGINT) is handler
