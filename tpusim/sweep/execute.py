"""Running a sweep's tasks: in this process, on local worker processes, or on any
`concurrent.futures`-style executor (a Dask cluster's included), with a progress line and a clean
stop on Ctrl-C that keeps every point already finished.

Results do not depend on where tasks ran: rows are keyed by point and the simulation is
deterministic, so serial, process-pool and Dask runs give the same rows in the same order.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import IO, Any

from tpusim.sweep.params import SweepError
from tpusim.sweep.work import Task, TaskOutput, run_task

# "serial", "process" (the default), "dask://HOST:PORT", or an executor object.
ExecutorSpec = str | Executor | None


@dataclass(frozen=True)
class Progress:
    points_done: int
    points: int
    programs_done: int
    programs: int
    elapsed_s: float


ProgressSpec = bool | Callable[[Progress], None] | None


@dataclass
class Outcome:
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # by point index
    programs_done: int = 0
    compiles: int = 0
    reused: int = 0  # programs kept from an earlier study in the same process
    interrupted: bool = False
    executor: str = "serial"


class ProgressLine:
    """One line on stderr, rewritten in place: a bar, points and programs done, elapsed time."""

    def __init__(self, label: str, stream: IO[str] | None = None, width: int = 24) -> None:
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self._last = 0.0
        self._shown = False

    def __call__(self, p: Progress) -> None:
        final = p.points_done == p.points
        if not final and time.monotonic() - self._last < 0.1:
            return  # redrawing more often only costs time
        self._last = time.monotonic()
        filled = round(self.width * p.points_done / max(1, p.points))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {p.points_done}/{p.points} points, "
                          f"{p.programs_done}/{p.programs} programs, {p.elapsed_s:.1f} s")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


class _Tracker:
    """Counts finished points and programs and tells the progress callback."""

    def __init__(self, tasks: list[Task], report: Callable[[Progress], None] | None) -> None:
        self.points = sum(len(t.variants) for t in tasks)
        self.programs = len(tasks)
        self.report = report
        self.outcome = Outcome()
        self.finished: set[int] = set()  # programs whose task has been counted
        self.start = time.monotonic()

    def row(self, row: dict[str, Any]) -> None:
        self.outcome.rows[row["point"]] = row
        self.tell()

    def task(self, out: TaskOutput) -> None:
        if out.program in self.finished:  # already counted (an interrupt collects again)
            return
        self.finished.add(out.program)
        for row in out.rows:
            self.outcome.rows[row["point"]] = row
        self.outcome.programs_done += 1
        if out.compiled:
            self.outcome.compiles += 1
        else:
            self.outcome.reused += 1
        self.tell()

    def tell(self) -> None:
        if self.report is not None:
            self.report(Progress(len(self.outcome.rows), self.points,
                                 self.outcome.programs_done, self.programs,
                                 time.monotonic() - self.start))


def local_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_tasks(tasks: list[Task], executor: ExecutorSpec = None, workers: int | None = None,
              report: Callable[[Progress], None] | None = None) -> Outcome:
    """Run every task; on Ctrl-C stop and return what finished, with `interrupted` set."""
    tracker = _Tracker(tasks, report)
    workers = workers or local_workers()
    if workers < 1:
        raise SweepError(f"workers must be >= 1, got {workers}")
    if executor is None or executor == "process":
        if len(tasks) <= 1 or workers == 1:  # nothing to share out: skip the pool start-up
            return _serial(tasks, tracker)
        count = min(workers, len(tasks))
        pool = _process_pool(count)
        return _parallel(tasks, pool, tracker, f"process x{count}",
                         lambda clean: _stop_pool(pool, clean))
    if executor == "serial":
        return _serial(tasks, tracker)
    if isinstance(executor, str):
        if not executor.startswith("dask://"):
            raise SweepError(f"unknown executor {executor!r} (expected serial, process or "
                             "dask://HOST:PORT)")
        client = _dask_client(executor[len("dask://"):])
        return _parallel(tasks, client.get_executor(), tracker, executor,
                         lambda clean: client.close())
    if not callable(getattr(executor, "submit", None)):
        raise SweepError(f"executor {executor!r} has no submit() method")
    return _parallel(tasks, executor, tracker, type(executor).__name__, lambda clean: None)


def _serial(tasks: list[Task], tracker: _Tracker) -> Outcome:
    try:
        for task in tasks:
            tracker.task(run_task(task, on_row=tracker.row))
    except KeyboardInterrupt:
        tracker.outcome.interrupted = True
    tracker.outcome.executor = "serial"
    return tracker.outcome


def _parallel(tasks: list[Task], executor: Executor, tracker: _Tracker, label: str,
              stop: Callable[[bool], None]) -> Outcome:
    """Submit every task, collect as they finish; `stop(clean)` releases the executor (clean:
    everything finished)."""
    tracker.outcome.executor = label
    futures: list[Future] = []
    clean = False
    try:
        futures = [executor.submit(run_task, task) for task in tasks]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                tracker.task(future.result())
            tracker.tell()  # keeps the elapsed time moving while a long task runs
        clean = True
    except KeyboardInterrupt:
        tracker.outcome.interrupted = True
        tracker.report = None  # the caller is stopping: no more progress
        for future in futures:  # keep whatever finished meanwhile
            if future.done() and not future.cancelled() and future.exception() is None:
                tracker.task(future.result())
    finally:
        for future in futures:
            future.cancel()
        stop(clean)
    return tracker.outcome


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; only the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """Workers by fork where that is safe: it starts fastest and, unlike spawn, does not run the
    caller's script again (which needs an `if __name__ == "__main__"` guard). Forking a process
    that runs threads (a notebook kernel, a Dask client) can deadlock: forkserver then, whose
    server imports tpusim once so workers start warm."""
    methods = multiprocessing.get_all_start_methods()
    context = None
    if "fork" in methods and threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
    elif "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["tpusim.sweep.work"])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_sigint)


def _stop_pool(pool: ProcessPoolExecutor, clean: bool) -> None:
    """After an interrupt or an error, stop at once: cancel what has not started and end the
    workers running the rest (their points are lost, the finished ones are kept)."""
    if clean:
        pool.shutdown(wait=True)
        return
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:  # Python 3.14+
        terminate()
        return
    # Before 3.14 there is no public call: end the worker processes directly (shutdown forgets
    # them, so take them first).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("a dask:// executor needs Dask: pip install 'tpusim[dask]'") from None
    if not address:
        raise SweepError("dask:// needs the scheduler's address, e.g. dask://127.0.0.1:8786")
    target = address if "://" in address else f"tcp://{address}"
    try:
        return Client(target, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {target}: {exc}") from None
