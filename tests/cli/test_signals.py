"""Real signals to a real run: a fit of the bundled example killed or interrupted while its
chains sample in child processes writes nothing and leaves no chain process behind. These run
the sampler (marked slow) and read /proc."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import EXAMPLE

RUN_FIT = "import sys; from mirage_bayes.cli import main; sys.exit(main(sys.argv[1:]))"


def default_sigint() -> None:
    """For a child process: Ctrl-C as in a terminal, whatever the test run inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> list[int]:
    """Live (not zombie) forks of ``pid`` (same command line: the sampler's chains, not a
    compiler it runs), from /proc."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            try:
                if (entry / "cmdline").read_bytes() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _fit_while_sampling(out: Path) -> tuple[subprocess.Popen, list[int]]:
    """A fit of the bundled example, returned once its chains run in child processes."""
    argv = [sys.executable, "-c", RUN_FIT, "fit", str(EXAMPLE), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint
    )
    for _ in range(600):
        children = _children(proc.pid)
        if len(children) >= 2:
            return proc, children
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the fit never started its chains")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_during_sampling_leaves_no_chain_process_behind(tmp_path):
    proc, children = _fit_while_sampling(tmp_path / "out")
    proc.kill()
    proc.wait(timeout=30)
    for _ in range(50):
        if not _alive(children):
            break
        time.sleep(0.2)
    assert not _alive(children), "chain processes outlived a killed fit"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigint_during_sampling_writes_nothing_and_exits_130(tmp_path):
    proc, children = _fit_while_sampling(tmp_path / "out")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "mirage-bayes: interrupted; nothing was written"
    assert not (tmp_path / "out").exists()
    for _ in range(50):
        if not _alive(children):
            break
        time.sleep(0.2)
    assert not _alive(children)
