"""A rank that raises, dies or hangs stops the whole job within a bounded time, with a line naming a rank."""

import re
import sys
import time

import pytest

from tests.distributed.mpirun import ROOT, WORKERS, mpi_env, run_mpi

BOUND_S = 30  # generous for a loaded machine; each case takes 1 to 4 s here


def timed(mode, **env):
    start = time.monotonic()
    done = run_mpi(2, [WORKERS / "failing.py", mode], timeout=BOUND_S + 30, check=False, **env)
    return done, time.monotonic() - start


def test_an_exception_on_one_rank_aborts_all_with_its_rank_and_message():
    done, seconds = timed("raise")
    assert done.returncode != 0 and seconds < BOUND_S
    assert "strided.distributed: rank 1 of 2: raised ValueError: bad shard; stopping all ranks" in done.stderr
    assert "finished" not in done.stdout


@pytest.mark.parametrize("mode", ["hang", "exit"])
def test_a_rank_that_hangs_or_leaves_early_ends_in_a_timeout(mode):
    done, seconds = timed(mode, STRIDED_DIST_TIMEOUT="2")
    assert done.returncode != 0 and seconds < BOUND_S
    assert "rank 0 of 2: all_reduce waited 2 s for the other ranks" in done.stderr


def test_sigkill_of_one_rank_is_named_by_strideds_launcher():
    import subprocess

    code = ("import sys; from strided.distributed.launch import relaunch; "
            f"sys.exit(relaunch(2, [{str(WORKERS / 'failing.py')!r}, 'kill']))")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=BOUND_S + 30,
                          env=mpi_env(), cwd=ROOT)
    assert done.returncode != 0 and time.monotonic() - start < BOUND_S
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr  # the launcher's banner is folded into one line
    # Hydra names one of the dead ranks: the one that was killed (1) or, in a race, one it stopped itself
    # with the same signal (0); the line says so.
    assert re.match(r"strided: rank [01] \(pid \d+\) was killed by signal 9 \(mpiexec stops the other ranks "
                    r"with the same signal: this may be one it stopped\)", lines[0]), lines[0]
