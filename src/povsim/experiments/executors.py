"""Where runs execute: in this process, in a local process pool, or on a Dask cluster.

Choosing an executor is a flag, not a rewrite (the EMA Workbench's evaluators). Every executor
takes the same worker function and run specs and yields ``(spec, outcome)`` pairs as runs
complete, in whatever order they complete; the caller stores each one at once. Because every
run is independent and seeded by its spec, the results do not depend on the executor, the
number of workers or the completion order.

- ``serial``: one run after another in this process (simplest to debug).
- ``process``: a ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method.
  Workers ignore Ctrl-C, which this process handles (it stops them). If a worker process dies
  (killed, out of memory), the pool is restarted for the unfinished runs, up to three times.
- ``dask``: a ``distributed.Client`` — on a ``LocalCluster`` of worker processes (one thread
  each) when no address is given, or on a running scheduler (``tcp://HOST:PORT``). Dask
  reschedules the tasks of a worker that dies; a run whose workers keep dying is recorded as
  failed. When the cluster has had no live worker for :data:`NO_WORKER_TIMEOUT` seconds (the last
  one died, or none ever joined), the unfinished runs are cancelled and the batch ends with a
  :class:`~povsim.errors.PovsimEnvironmentError` naming the scheduler; the finished runs are stored.
  Workers must have povsim installed and see the scenario files at the same paths.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Self

from tqdm import tqdm

from povsim.errors import PovsimEnvironmentError, PovsimInputError
from povsim.experiments.spec import RunSpec
from povsim.experiments.worker import RunOutcome

EXECUTORS = ("serial", "process", "dask")
"""The executor names accepted by ``--executor``."""

NO_WORKER_TIMEOUT = 60.0
"""Seconds a Dask batch waits while its cluster has no live worker before it gives up (exit code 3).

Long enough for a worker to be restarted by hand or by a job scheduler, short enough that a batch
whose last worker died does not hang. The environment variable named by
:data:`NO_WORKER_TIMEOUT_VARIABLE` overrides it (seconds, a positive number)."""
NO_WORKER_TIMEOUT_VARIABLE = "POVSIM_DASK_NO_WORKER_TIMEOUT"
"""The environment variable that overrides :data:`NO_WORKER_TIMEOUT`."""
_POLL_SECONDS = 0.1
"""How often the Dask executor looks for finished runs while none is ready."""
_WORKER_CHECK_SECONDS = 1.0
"""How often, at most, it asks the scheduler how many workers it has."""

RunFn = Callable[[RunSpec], RunOutcome]
_ADDRESS = re.compile(r"([a-z][a-z0-9+.-]*://)?[^\s:/]+(:\d{1,5})?(/\S*)?")


@dataclass(frozen=True)
class ExecutorOptions:
    """The executor chosen on the command line, validated.

    Attributes:
        name: ``serial``, ``process`` or ``dask``.
        workers: worker processes, or None for the default (CPUs, at most the runs to do).
        address: a Dask scheduler address, or None for a LocalCluster.
    """

    name: str
    workers: int | None = None
    address: str | None = None

    @classmethod
    def validate(cls, name: str, workers: int | None = None, address: str | None = None) -> ExecutorOptions:
        """Check the combination of executor, worker count and address.

        Raises:
            PovsimInputError: an unknown executor, fewer than one worker, ``--workers`` with
                ``serial`` or with ``--address``, ``--address`` without ``dask``, or an
                address that is not ``[scheme://]host[:port]``, or (dask) a bad
                ``POVSIM_DASK_NO_WORKER_TIMEOUT`` (:func:`no_worker_timeout`).
        """
        if name not in EXECUTORS:
            raise PovsimInputError(f"--executor {name!r}: unknown executor (choose {', '.join(EXECUTORS)})")
        if workers is not None:
            if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
                raise PovsimInputError(f"--workers {workers}: the number of workers must be at least 1")
            if name == "serial" and workers != 1:
                raise PovsimInputError(f"--workers {workers}: the serial executor runs one run at a time")
        if address is not None:
            if name != "dask":
                raise PovsimInputError("--address: only the dask executor connects to a scheduler (--executor dask)")
            if workers is not None:
                raise PovsimInputError(
                    "--workers does not apply with --address: the running cluster has its own workers"
                )
            if not _ADDRESS.fullmatch(address):
                raise PovsimInputError(f"--address {address!r}: expected a scheduler address such as tcp://HOST:8786")
        if name == "dask":
            no_worker_timeout()  # a bad POVSIM_DASK_NO_WORKER_TIMEOUT is refused before any run
        return cls(name, workers, address)

    def describe(self, executor: Executor | None = None) -> dict[str, Any]:
        """For the manifest: name, workers used and address."""
        workers = executor.workers if executor is not None else self.workers
        return {"name": self.name, "workers": workers, "address": self.address}


class Executor:
    """Runs specs with a worker function and yields ``(spec, outcome)`` as each completes.

    Use as a context manager; leaving it on an exception (Ctrl-C included) cancels the runs
    not yet done and stops the workers.
    """

    name = ""
    workers = 1

    def run(self, fn: RunFn, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, RunOutcome]]:
        """Run every spec; yield each outcome as soon as it is available."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """One run after another in this process."""

    name = "serial"

    def run(self, fn: RunFn, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, RunOutcome]]:
        for spec in specs:
            try:
                outcome = fn(spec)
            except Exception as exc:  # a worker function that does not catch its own errors
                outcome = RunOutcome.failure(spec, exc)
            yield spec, outcome


def _ignore_sigint() -> None:
    """Pool worker initializer: Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while child processes are started (they inherit it), then restore it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class ProcessExecutor(Executor):
    """A local pool of worker processes (``spawn`` start method).

    Args:
        workers: number of worker processes.
    """

    name = "process"
    max_restarts = 3
    """How often the pool is restarted after a worker process died, per batch."""

    def __init__(self, workers: int):
        import multiprocessing

        self.workers = workers
        self._context = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_ignore_sigint)
        return self._pool

    def run(self, fn: RunFn, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, RunOutcome]]:
        pending = {s.key: s for s in specs}
        restarts = 0
        while pending:
            pool = self._start()
            futures = {pool.submit(fn, s): s for s in pending.values()}
            broken: BaseException | None = None
            for future in as_completed(futures):
                spec = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    broken = exc
                    continue
                except Exception as exc:  # e.g. a result that cannot be pickled
                    outcome = RunOutcome.failure(spec, exc, "process pool")
                del pending[spec.key]
                yield spec, outcome
            self._shutdown(cancel=False)
            if broken is None:
                continue
            restarts += 1
            if restarts > self.max_restarts:
                for spec in list(pending.values()):
                    del pending[spec.key]
                    yield spec, RunOutcome.failure(spec, broken, "worker processes kept dying")
            else:
                tqdm.write(
                    f"povsim: a worker process died; restarting the pool for the {len(pending)} unfinished runs",
                    file=sys.stderr,
                )

    def _shutdown(self, cancel: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            # Stop at once: the workers ignore SIGINT, so terminate the processes we started.
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=5)
        else:
            pool.shutdown(wait=True)

    def close(self) -> None:
        self._shutdown(cancel=True)


class DaskExecutor(Executor):
    """Runs on Dask distributed: a LocalCluster, or a running scheduler at ``address``.

    While runs are outstanding it asks the scheduler, about once a second, how many workers it has.
    When there has been none for ``timeout`` seconds — the last worker died (a killed
    ``dask worker --no-nanny``, a lost node, a LocalCluster whose workers could not be restarted) or
    none joined — it cancels the unfinished runs and raises, instead of waiting for ever; the runs
    that finished before were yielded (and stored by the runner), so rerunning the batch resumes.

    Args:
        workers: worker processes of the LocalCluster (ignored with ``address``).
        address: scheduler address, e.g. ``tcp://10.0.0.5:8786``, or None.
        timeout: seconds without a live worker before giving up (default: :func:`no_worker_timeout`,
            :data:`NO_WORKER_TIMEOUT` unless the environment says otherwise).

    Raises:
        PovsimInputError: ``distributed`` is not installed, or the scheduler cannot be reached.
    """

    name = "dask"

    def __init__(self, workers: int, address: str | None = None, timeout: float | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - a declared dependency
            raise PovsimInputError(
                "--executor dask needs the distributed package: pip install 'dask[distributed]'"
            ) from None
        self.address = address
        self.cluster: Any = None
        self._futures: list[Any] = []
        self._returned = 0
        self._checked = self._alive_at = time.monotonic()
        self.no_worker_timeout = no_worker_timeout() if timeout is None else float(timeout)
        if address:
            try:
                self.client = Client(address, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise PovsimInputError(f"--address {address}: cannot reach a Dask scheduler ({exc})") from None
            self.workers = len(self.client.nthreads())
            if not self.workers:
                tqdm.write(
                    f"povsim: the scheduler at {address} has no workers yet; runs start when some join "
                    f"(the batch stops if none has joined within {self.no_worker_timeout:g} s)",
                    file=sys.stderr,
                )
        else:
            import dask

            # Dask sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which makes glibc return
            # memory after every array the model frees (one paired measurement on a loaded
            # 2-CPU machine: 1.0 s against 0.6 s per run at scale 1000). Keep Dask's thread
            # limits, drop that one.
            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            # Worker processes inherit an ignored SIGINT, so Ctrl-C reaches only this process,
            # which then closes the cluster (and no worker prints a traceback).
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), _sigint_ignored():
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            self.client = Client(self.cluster, set_as_default=False)
            self.workers = workers

    def where(self) -> str:
        """The cluster, for messages: ``the Dask scheduler at ADDRESS`` or the local cluster's."""
        if self.address:
            return f"the Dask scheduler at {self.address}"
        scheduler = getattr(getattr(self.client, "scheduler", None), "address", None)
        return f"the local Dask cluster (scheduler {scheduler})" if scheduler else "the local Dask cluster"

    def live_workers(self) -> int:
        """How many workers the scheduler has now (0 when it cannot be asked: it is gone too)."""
        try:
            return len(self.client.nthreads())
        except Exception:  # a lost connection (OSError, CommClosedError), a closed client
            return 0

    def run(self, fn: RunFn, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, RunOutcome]]:
        from distributed import as_completed as dask_completed

        by_key: dict[str, RunSpec] = {}
        for spec in specs:
            future = self.client.submit(fn, spec, key=f"povsim-run-{spec.key}", pure=False)
            by_key[future.key] = spec
            self._futures.append(future)
        completed = dask_completed(self._futures, loop=self.client.loop)
        self._returned = 0
        self._checked = self._alive_at = time.monotonic()  # workers last counted, and last seen
        while not completed.is_empty():
            batch = completed.next_batch(block=False)
            if not batch:
                self._watch()
                time.sleep(_POLL_SECONDS)
                continue
            self._alive_at = time.monotonic()  # runs just came back
            for future in batch:
                spec = by_key[future.key]
                outcome = self._result(future, spec)
                future.release()
                self._returned += 1
                yield spec, outcome
        self._futures = []

    def _result(self, future: Any, spec: RunSpec) -> RunOutcome:
        """The outcome of a finished run. Its result is fetched from the worker that ran it; if that
        worker died meanwhile, Dask runs it again, so this waits (watching for workers) until it is back.
        Each attempt waits twice as long as the one before (1 s, 2 s, ... at most 60 s), so a large
        result on a slow network is not cut short for ever."""
        wait = _WORKER_CHECK_SECONDS
        while True:
            try:
                return future.result(timeout=wait)
            except TimeoutError:  # its worker died before the result was fetched: it is being rerun
                self._watch()
                wait = min(2 * wait, 60.0)
            except Exception as exc:  # KilledWorker, a worker without povsim, a lost connection
                return RunOutcome.failure(spec, exc, "dask")

    def _watch(self) -> None:
        """Count the workers (at most once a second); give up after ``no_worker_timeout`` without any."""
        now = time.monotonic()
        if now - self._checked < _WORKER_CHECK_SECONDS:
            return
        self._checked = now
        if self.live_workers():
            self._alive_at = now
        elif now - self._alive_at >= self.no_worker_timeout:
            self._give_up()

    def _give_up(self) -> None:
        """Cancel the runs not done and raise the error of a cluster without workers."""
        with contextlib.suppress(Exception):
            self.client.cancel([f for f in self._futures if not f.done()])
        raise PovsimEnvironmentError(
            f"{self.where()} has had no live worker for {self.no_worker_timeout:g} s "
            f"({NO_WORKER_TIMEOUT_VARIABLE}); {len(self._futures) - self._returned} unfinished run(s) cancelled, "
            "the finished ones are stored: start workers and rerun the same command to resume"
        )

    def close(self) -> None:
        client, self.client = getattr(self, "client", None), None
        if client is None:
            return
        try:
            if self._futures:
                with contextlib.suppress(Exception):  # a client that lost its scheduler
                    client.cancel(self._futures)
                self._futures = []
            client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
                self.cluster = None


def no_worker_timeout() -> float:
    """The seconds a Dask batch waits with no live worker: :data:`NO_WORKER_TIMEOUT`, or the value of
    the environment variable :data:`NO_WORKER_TIMEOUT_VARIABLE`.

    Raises:
        PovsimInputError: the variable is set but is not a positive number of seconds.
    """
    text = os.environ.get(NO_WORKER_TIMEOUT_VARIABLE, "").strip()
    if not text:
        return NO_WORKER_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise PovsimInputError(f"{NO_WORKER_TIMEOUT_VARIABLE}={text!r}: expected a positive number of seconds")
    return value


def make_executor(options: ExecutorOptions, n_runs: int) -> Executor:
    """Start the executor chosen by ``options`` for ``n_runs`` runs.

    The default worker count is the number of CPUs, at most ``n_runs``.
    """
    workers = options.workers or max(1, min(os.cpu_count() or 1, n_runs))
    if options.name == "serial":
        return SerialExecutor()
    if options.name == "process":
        return ProcessExecutor(workers)
    return DaskExecutor(workers, options.address)
