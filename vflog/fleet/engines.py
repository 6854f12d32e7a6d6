"""Run the analysis of many logs on a local process pool or on Dask, yielding each FileResult as it finishes."""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import functools
import gc
import importlib.util
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterable, Iterator

from ..config import Config
from ..errors import InputError, UsageError
from ..input import Limits, Selection
from .discover import discover
from .one import analyze_one, failed_result
from .results import ENGINES, FileResult, LogJob, Summary


def default_jobs() -> int:
    """Return the number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# -- running the jobs ---------------------------------------------------------------------------


def _mp_context() -> Any:
    """Fork when it is safe (no other thread in this process), else a fork server or spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _pool(workers: int, context: Any) -> futures.ProcessPoolExecutor:
    """Return a process pool whose workers end on SIGTERM and SIGHUP (see :func:`_worker_signals`)."""
    return futures.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_signals)


def _worker_signals() -> None:
    """In a worker: SIGTERM and SIGHUP end the process, as by default (a handler inherited from the parent is dropped)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if callable(signal.getsignal(signum)):
            signal.signal(signum, signal.SIG_DFL)


def _stop(executor: futures.ProcessPoolExecutor) -> None:
    """Shut *executor* down now: cancel the waiting tasks and end its worker processes (none outlives vflog)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def _isolated(job: LogJob, run: functools.partial, context: Any) -> FileResult:
    """Run one job alone in a fresh worker, after a worker died: it either works or is reported."""
    single = _pool(1, context)
    try:
        return _outcome(job, single.submit(run, job))
    except BaseException:  # interrupted or terminated while it runs: the worker ends too
        _stop(single)
        raise
    finally:
        single.shutdown(wait=True)


def _outcome(job: LogJob, future: futures.Future[FileResult]) -> FileResult:
    """Return the result of *future*, or a failed result naming why the worker gave none."""
    try:
        return future.result()
    except BrokenProcessPool:
        return failed_result(job, "the worker process died while reading it (killed? out of memory?)")
    except Exception as exc:
        return failed_result(job, f"worker failed ({type(exc).__name__}: {exc})")


def _pool_results(work: list[LogJob], workers: int, run: functools.partial, context: Any) -> Iterator[FileResult]:
    """Run the jobs on a process pool, one log per task, at most a few tasks per worker in flight.

    A worker that dies (killed, out of memory) breaks the pool and every task in flight with it:
    those logs are run again one by one in a fresh process (so the culprit is named and the others
    are analysed), then the pool is restarted and the batch goes on.
    """
    context = context or _mp_context()
    queue = iter(work)
    window = workers * 4
    pending: dict[futures.Future[FileResult], LogJob] = {}
    deferred: list[LogJob] = []  # taken from the queue but refused by a pool that had just broken
    frozen = context.get_start_method() == "fork" and not gc.get_freeze_count()
    if frozen:
        gc.freeze()  # forked workers' collections then leave the inherited objects (and their pages) alone
    executor = _pool(workers, context)
    clean_exit = False
    restarts_without_progress = 0
    try:
        def fill() -> None:
            while len(pending) < window:
                job = deferred.pop() if deferred else next(queue, None)
                if job is None:
                    return
                try:
                    pending[executor.submit(run, job)] = job
                except BrokenProcessPool:
                    deferred.append(job)
                    return

        fill()
        while pending or deferred:
            lost: list[LogJob] = []
            if pending:
                done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        lost.append(job)
                        continue
                    except Exception as exc:
                        result = failed_result(job, f"worker failed ({type(exc).__name__}: {exc})")
                    restarts_without_progress = 0
                    yield result
            if lost or (deferred and not pending):
                lost.extend(pending.values())
                pending.clear()
                executor.shutdown(wait=False, cancel_futures=True)
                for job in lost:
                    yield _isolated(job, run, context)
                restarts_without_progress = 0 if lost else restarts_without_progress + 1
                if restarts_without_progress > 3:  # the pool cannot even start: report what is left
                    for job in deferred + list(queue):
                        yield failed_result(job, "no worker process could be started")
                    deferred.clear()
                    break
                executor = _pool(workers, context)
            fill()
        clean_exit = True
    finally:
        if clean_exit:
            executor.shutdown(wait=True)
        else:  # interrupted, terminated, or the caller stopped reading: no worker may outlive this
            _stop(executor)
        if frozen:
            gc.unfreeze()


#: Signals that the command line (or Python) turns into exceptions; held while a Dask cluster starts or stops.
_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP (when handled in Python) wait; leaving it normally delivers the first.

    A Dask cluster interrupted half-way through starting or closing leaves processes, files and
    an exit-time traceback behind, so those steps run whole and the signal takes effect after
    (replacing an error the block raised, as a signal sent to the whole group kills workers too).
    While Ctrl-C or a termination is already unwinding (inside the block or around it), that one goes on.
    """
    held: list[int] = []
    previous: dict[int, Any] = {}
    try:
        for signum in _HELD_SIGNALS:
            if callable(signal.getsignal(signum)):
                previous[signum] = signal.signal(signum, lambda number, frame: held.append(number))
    except ValueError:  # not the main thread, where Python delivers no signal anyway
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if held and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            signal.raise_signal(held[0])  # over another error too: that was most likely the signal's doing


@contextlib.contextmanager
def _dask_client(scheduler: Any, workers: int) -> Iterator[Any]:
    """Yield a distributed Client for *scheduler*; whatever this opened is closed on leaving, however it is left."""
    if scheduler is None:
        with _local_client(workers) as client:
            yield client
        return
    if not isinstance(scheduler, str):
        yield scheduler  # a Client (or anything with submit) the caller owns
        return
    from distributed import Client

    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(scheduler, f"no Dask scheduler can be reached there ({exc})") from None
    try:
        yield client
    finally:
        _close_quietly(client)


@contextlib.contextmanager
def _local_client(workers: int) -> Iterator[Any]:
    """Yield a Client of a new LocalCluster of *workers* single-threaded processes whose scratch space is private.

    The scratch space is a fresh ``tempfile.mkdtemp()`` directory (mode 0700, so no other user can
    plant modules on the workers' ``sys.path``); on leaving, even by Ctrl-C, SIGTERM or SIGHUP,
    the client and cluster are closed, any worker still running is killed and the directory removed.
    Dask's own log stays quiet below CRITICAL (a worker closing mid-task logs tracebacks that are no
    concern of the user: a task that fails is reported as a failed result).
    """
    import dask
    from distributed import Client, LocalCluster

    scratch = tempfile.mkdtemp(prefix="vflog-dask-")
    cluster = client = None
    try:
        with _signals_held(), dask.config.set({"temporary-directory": scratch}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL, local_directory=scratch)
            client = Client(cluster)
        yield client
    finally:
        with _signals_held():
            _close_cluster(client, cluster)
            shutil.rmtree(scratch, ignore_errors=True)


def _close_cluster(client: Any, cluster: Any) -> None:
    """Close *client* and *cluster* (either may be None), then kill any of the cluster's worker processes still alive."""
    pids = {nanny.pid for nanny in getattr(cluster, "workers", {}).values()} - {None}
    for item in (client, cluster):
        if item is not None:
            _close_quietly(item, timeout=_CLOSE_SECONDS)
    for process in multiprocessing.active_children():
        if process.pid in pids:
            process.kill()
            process.join(timeout=_CLOSE_SECONDS)


#: How long closing a Dask client or cluster may take before its workers are killed.
_CLOSE_SECONDS = 5


def _close_quietly(item: Any, **options: Any) -> None:
    """Call ``item.close(**options)``; a failure to close (already closed, scheduler gone) is not an error."""
    try:
        item.close(**options)
    except Exception:
        pass


def _dask_results(work: list[LogJob], workers: int, run: functools.partial, scheduler: Any) -> Iterator[FileResult]:
    """Map the per-log function with Dask futures, as results finish, with a bounded number in flight."""
    from distributed import as_completed

    with _dask_client(scheduler, workers) as client:
        pending: dict[str, LogJob] = {}
        try:
            threads = sum(client.nthreads().values())
        except Exception:
            threads = workers
        window = max(4 * workers, 4 * threads, 8)
        queue = iter(work)
        stream = as_completed()

        def fill() -> None:
            while len(pending) < window:
                job = next(queue, None)
                if job is None:
                    return
                future = client.submit(run, job, pure=False)
                pending[future.key] = job
                stream.add(future)

        fill()
        for future in stream:
            job = pending.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # KilledWorker, a lost worker, a deserialisation problem
                result = failed_result(job, f"Dask task failed ({type(exc).__name__}: {exc})")
            future.release()
            yield result
            fill()


def check_engine(engine: str, jobs: int | None) -> int:
    """Return the number of workers for *jobs* (None: every core); raise UsageError for a bad engine or count."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    workers = default_jobs() if jobs is None else jobs
    if not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--jobs needs a whole number of at least 1, not {jobs!r}")
    if engine == "dask":
        try:
            found = importlib.util.find_spec("distributed") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError("--engine dask needs dask.distributed: pip install 'vflog[dask]'")
    return workers


def scan(paths: Iterable[LogJob | str | os.PathLike[str]], *, jobs: int | None = None, config: Config | None = None,
         selection: Selection = Selection(), limits: Limits = Limits(), engine: str = "process",
         scheduler: Any = None, group_rotations: bool = True, mp_context: Any = None) -> Iterator[FileResult]:
    """Analyse every log that *paths* hold, each on its own, in parallel; yield results as they finish.

    *paths* are files, directories, globs, archives and fsspec URLs (or LogJobs from :func:`discover`).
    ``engine="process"`` runs *jobs* worker processes (default: every core; 1 runs in this process);
    ``engine="dask"`` maps the same per-log function on Dask: a LocalCluster of *jobs* single-threaded
    worker processes, or the scheduler at address *scheduler* (``tcp://...``), or a given
    ``distributed.Client``.  Results come in completion order; raise UsageError for bad arguments.
    """
    workers = check_engine(engine, jobs)
    work = list(discover(paths, selection=selection, group_rotations=group_rotations).jobs)
    run = functools.partial(analyze_one, config=config or Config(), selection=selection, limits=limits)
    return _results(work, workers, run, engine, scheduler, mp_context)


def _results(work: list[LogJob], workers: int, run: functools.partial, engine: str, scheduler: Any,
             mp_context: Any) -> Iterator[FileResult]:
    if not work:
        return
    if engine == "dask":
        yield from _dask_results(work, workers, run, scheduler)
    elif workers == 1 or len(work) == 1:
        for job in work:
            yield run(job)
    else:
        yield from _pool_results(work, min(workers, len(work)), run, mp_context)


def summarize(paths: Iterable[LogJob | str | os.PathLike[str]], *, jobs: int | None = None,
              config: Config | None = None, selection: Selection = Selection(), limits: Limits = Limits(),
              engine: str = "process", scheduler: Any = None, group_rotations: bool = True) -> Summary:
    """Return only the Summary of every log; with Dask the reduction runs on the cluster (a bag fold)."""
    workers = check_engine(engine, jobs)
    work = list(discover(paths, selection=selection, group_rotations=group_rotations).jobs)
    run = functools.partial(analyze_one, config=config or Config(), selection=selection, limits=limits)
    if engine != "dask" or not work:
        return functools.reduce(Summary.merge, map(Summary.of, _results(work, workers, run, engine, scheduler, None)),
                                Summary())
    import dask.bag

    with _dask_client(scheduler, workers) as client:
        bag = dask.bag.from_sequence(work, partition_size=1).map(run).map(Summary.of)
        total = bag.fold(Summary.merge, Summary.merge, initial=Summary())
        return total.compute(scheduler=client)  # type: ignore[no-any-return]
