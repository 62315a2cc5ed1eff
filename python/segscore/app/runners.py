"""Running cases: one case end to end (`run_case`: load, score, or an error record), the
local runner (loader threads with bounded read-ahead, scoring in the calling thread) and the
Dask runner."""

from __future__ import annotations

import sys
import time
from collections import deque
from itertools import islice

from .io import CaseError
from .pairing import CaseSpec, load_case
from .scorers import Config, score_case

DASK_CONNECT_TIMEOUT_S = 10.0

# ====================================================================== one case
def error_record(case: str, exc: BaseException, spec: CaseSpec | None = None) -> dict:
    if isinstance(exc, CaseError):
        stage, reason, file = exc.stage, exc.reason, exc.file
    else:
        stage, reason, file = "compute", f"{type(exc).__name__}: {exc}", None
    return {"case": case, "status": "error", "stage": stage, "file": file, "reason": reason}


def run_case(spec: CaseSpec, cfg: Config) -> dict:
    """Load and score one case, never raising: the unit of work sent to Dask workers."""
    try:
        t0 = time.perf_counter()
        loaded = load_case(spec, cfg)
        t1 = time.perf_counter()
        rec = score_case(loaded, cfg)
        rec["meta"]["load_s"] = t1 - t0
        return rec
    except MemoryError as exc:
        return error_record(spec.case, CaseError("compute", f"out of memory ({exc})"))
    except Exception as exc:
        return error_record(spec.case, exc, spec)


# ====================================================================== execution
LOADER_NICENESS = 10


def _background_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: a thread id is a process id to
    setpriority): the loaders read ahead with what the case being scored leaves free, so
    that on a machine with few cores the read-ahead does not slow the compute down.
    Elsewhere, or when refused, nothing changes."""
    import os
    import threading

    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + LOADER_NICENESS))
    except OSError:
        pass


def local_records(specs, cfg, workers, prefetch, stop):
    """Load ahead on `workers` threads (at most `prefetch` cases in memory, at a lower CPU
    priority than the compute), score in this thread."""
    from concurrent.futures import ThreadPoolExecutor

    def load(spec):
        t0 = time.perf_counter()
        try:
            return load_case(spec, cfg), None, time.perf_counter() - t0
        except Exception as exc:  # recorded, the run goes on
            return None, exc, time.perf_counter() - t0

    ex = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segscore-load", initializer=_background_priority)
    try:
        it = iter(specs)
        pending = deque((s, ex.submit(load, s)) for s in islice(it, prefetch))
        while pending and not stop.is_set():
            spec, fut = pending.popleft()
            loaded, exc, load_s = fut.result()
            del fut
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, ex.submit(load, nxt)))
            if exc is not None:
                yield error_record(spec.case, exc, spec)
                continue
            try:
                rec = score_case(loaded, cfg)
                rec["meta"]["load_s"] = load_s
            except MemoryError as e:
                rec = error_record(spec.case, CaseError("compute", f"out of memory ({e})"))
            except Exception as e:
                rec = error_record(spec.case, e, spec)
            del loaded
            yield rec
    except BaseException:
        stop.set()
        raise
    finally:
        # never wait for a loader stuck in a read (a hung network file system): on Ctrl-C the
        # finished cases are finalised and the process may exit with the thread still blocked
        ex.shutdown(wait=not stop.is_set(), cancel_futures=True)


def dask_records(specs, cfg, client, window, stop):
    """Submit at most `window` cases at a time to the Dask cluster; yield records as they finish."""
    from distributed import as_completed

    it = iter(specs)
    by_key = {}

    def submit(spec):
        f = client.submit(run_case, spec, cfg, pure=False)
        by_key[f.key] = spec
        return f

    ac = as_completed([submit(s) for s in islice(it, window)])
    try:
        for fut in ac:
            spec = by_key.pop(fut.key)
            try:
                rec = fut.result()
            except Exception as exc:  # a worker died, or the task could not run
                rec = error_record(spec.case, CaseError("worker", f"{type(exc).__name__}: {exc}"))
            fut.release()
            if stop.is_set():
                yield rec
                break
            nxt = next(it, None)
            if nxt is not None:
                ac.add(submit(nxt))
            yield rec
    finally:
        for f in list(ac.futures) if hasattr(ac, "futures") else []:
            try:
                f.cancel()
            except Exception:
                pass


class DaskRunner:
    """A Dask client for ``scheduler`` (address, "local" or a Client), closed on exit if we made it."""

    def __init__(self, scheduler, workers, threads):
        self.own = []
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("Dask scoring needs dask.distributed: pip install 'dask[distributed]'") from None
        if hasattr(scheduler, "submit"):
            self.client = scheduler
        elif scheduler == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            self.own.append(cluster)
            self.client = Client(cluster)
            self.own.insert(0, self.client)
        else:
            try:
                self.client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
            except Exception as exc:
                why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConnectionError(
                    f"cannot reach the Dask scheduler {scheduler!r} within {DASK_CONNECT_TIMEOUT_S:g} s ({why}); "
                    "check the address (e.g. tcp://host:8786) and that the scheduler is running") from None
            self.own.append(self.client)

    def nworkers(self):
        try:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        except Exception:
            return 1

    def close(self):
        for o in self.own:
            try:
                o.close()
            except Exception:
                pass
