"""Exports to one base at the same moment never crash and never replace each other.

The fast test races the publishing step of several processes (no TensorFlow); the slow
one runs two real ``mtlflow export RUN BASE`` commands side by side.
"""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtlflow.errors import MtlflowError
from mtlflow.export.publish import complete_versions, publish, remove_abandoned_staging, staging_directory

WRITERS = 6


def _export_once(base: str, barrier, results) -> None:
    """One exporter: writes a complete staging directory, waits for the others, publishes."""
    staging = staging_directory(Path(base))
    staging.mkdir()
    (staging / "saved_model.pb").write_text(str(os.getpid()), "utf-8")
    barrier.wait()
    results.put((os.getpid(), publish(staging, Path(base)).name))


def test_racing_exports_take_consecutive_versions_and_keep_their_own_files(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WRITERS), context.Queue()
    workers = [context.Process(target=_export_once, args=(str(tmp_path), barrier, results)) for _ in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * WRITERS
    published = dict(results.get(timeout=5) for _ in range(WRITERS))
    assert sorted(int(v) for v in published.values()) == list(range(1, WRITERS + 1))
    for pid, version in published.items():  # every version holds the export of the process that got it
        assert (tmp_path / version / "saved_model.pb").read_text("utf-8") == str(pid)
    assert complete_versions(tmp_path) == list(range(1, WRITERS + 1))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_an_explicit_version_that_exists_is_refused_not_replaced(tmp_path):
    (tmp_path / "1").mkdir()  # empty: a plain rename would silently replace it
    staging = staging_directory(tmp_path)
    staging.mkdir()
    with pytest.raises(MtlflowError, match=r"version 1 already exists; pick another --version"):
        publish(staging, tmp_path, 1)
    assert not any((tmp_path / "1").iterdir())


def test_only_staging_of_dead_processes_is_removed(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f".tmp-{int(finished.stdout)}-00aa11bb"
    live = staging_directory(tmp_path)  # this process's: a concurrent export in progress
    dead.mkdir()
    live.mkdir()
    assert remove_abandoned_staging(tmp_path) == [dead.name]
    assert live.is_dir() and not dead.exists()


@pytest.mark.slow
def test_two_export_commands_at_once_both_succeed(tmp_path):
    from test_crash_safe_run import _project

    from mtlflow.run import train

    run_dir = tmp_path / "run"
    train(_project(tmp_path / "project", epochs=1), run_dir, verbose=False, export=False)
    base = tmp_path / "serving"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    command = [sys.executable, "-m", "mtlflow", "export", str(run_dir), str(base)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == [f"exported SavedModel: {base / '1'}",
                                                         f"exported SavedModel: {base / '2'}"]
    assert complete_versions(base) == [1, 2]
