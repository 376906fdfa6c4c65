"""Where independent synthesis flows run: in this process, a local process pool, or Dask.

    Executor(jobs=1)                      # in this process, one after another
    Executor(jobs=N)                      # a local pool of N processes
    Executor(dask="local:N")              # a Dask LocalCluster of N single-threaded workers
    Executor(scheduler="tcp://host:8786") # an existing Dask scheduler (dask-jobqueue: SLURM/PBS)

A task is a module-level function and picklable arguments, and it returns a JSON-able result. A
task never writes the cache: the client does (synth/run.py ``cached``), under a key computed by the
client from the *content* of the inputs (the Verilog text, the flow's parameters and version), so
a result that comes back from another machine is filed where this machine would have filed it.
Workers on other machines need the same checkout of this project and the same tools.
"""
from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator


class ExecutorError(ValueError):
    """Bad executor settings (the CLI reports them as ``error: ...``)."""


class Executor:
    def __init__(self, jobs: int = 1, dask: str | None = None, scheduler: str | None = None):
        if jobs < 1:
            raise ExecutorError(f"--jobs must be at least 1, not {jobs}")
        if dask and scheduler:
            raise ExecutorError("give --dask local:N or --scheduler ADDRESS, not both")
        self.jobs, self._pool, self._client, self._cluster = jobs, None, None, None
        if dask or scheduler:
            self._start_dask(dask, scheduler)
        elif jobs > 1:
            self._pool = cf.ProcessPoolExecutor(max_workers=jobs)

    def _start_dask(self, dask: str | None, scheduler: str | None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:
            raise ExecutorError(f"Dask distributed is not installed ({e}); pip install 'dask[distributed]'") from None
        if dask:
            kind, _, n = dask.partition(":")
            if kind != "local" or not n.isdigit() or int(n) < 1:
                raise ExecutorError(f"--dask takes local:N (N workers on this machine), not {dask!r}")
            # one thread per worker: every flow runs external tools that use one core each
            self._cluster = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(scheduler, timeout=30)
            except (OSError, TimeoutError) as e:
                raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        self.jobs = max(1, len(self._client.scheduler_info().get("workers", {})))

    @property
    def remote(self) -> bool:
        """Tasks may run on another machine: inputs and outputs travel as data, not paths."""
        return self._client is not None

    @property
    def kind(self) -> str:
        if self._client is not None:
            return f"dask ({self.jobs} workers, scheduler {self._client.scheduler.address})"
        return f"process pool ({self.jobs})" if self._pool else "in process"

    def map(self, fn: Callable, arg_tuples: Iterable[tuple]) -> Iterator[tuple[int, object, BaseException | None]]:
        """Run ``fn(*args)`` for every tuple; yield ``(index, result, error)`` as each finishes."""
        args = list(arg_tuples)
        if self._client is not None:
            from distributed import as_completed
            futs = {self._client.submit(fn, *a, pure=False): i for i, a in enumerate(args)}
            for f in as_completed(futs):
                err = f.exception()
                yield futs[f], (None if err else f.result()), err
        elif self._pool is not None:
            futs = {self._pool.submit(fn, *a): i for i, a in enumerate(args)}
            for f in cf.as_completed(futs):
                err = f.exception()
                yield futs[f], (None if err else f.result()), err
        else:
            for i, a in enumerate(args):
                try:
                    yield i, fn(*a), None
                except Exception as e:      # noqa: BLE001 - reported per task, like the pools do
                    yield i, None, e

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def add_arguments(parser, default_jobs: int = 1) -> None:
    """--jobs, --dask, --scheduler on an argparse parser."""
    g = parser.add_argument_group("where the flows run")
    g.add_argument("--jobs", type=int, default=default_jobs,
                   help=f"flows run at once in a local process pool (default {default_jobs})")
    g.add_argument("--dask", metavar="local:N", help="run the flows on a Dask LocalCluster of N workers")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the flows on an existing Dask scheduler, e.g. tcp://host:8786")


def from_args(args) -> Executor:
    return Executor(jobs=args.jobs, dask=args.dask, scheduler=args.scheduler)
