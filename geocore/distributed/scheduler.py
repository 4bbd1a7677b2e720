"""Choosing where work runs: one process, a LocalCluster, or an existing Dask cluster.

A *scheduler* is named by a short string, the same on the command line
(``--scheduler``) and in the Python API:

``none``
    today's single process, no Dask needed;
``local`` or ``local:N``
    a :class:`distributed.LocalCluster` on this machine with N worker
    processes of one thread each (default: one per CPU core);
``tcp://host:8786`` (or ``tls://...``)
    the scheduler of a cluster that is already running (dask-jobqueue on
    SLURM/PBS, a Kubernetes Dask cluster, ``dask scheduler`` by hand).

A :class:`distributed.Client` may be passed instead of a string.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

from ..errors import GeocoreError

#: What ``pip`` needs for the distributed engine.
INSTALL_HINT = "pip install 'geocore[dask]'"


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed scheduler choice.

    Attributes
    ----------
    kind : str
        ``"none"``, ``"local"`` or ``"address"``.
    n_workers : int or None
        Workers of a local cluster (None: one per core).
    address : str or None
        Scheduler address of an existing cluster.
    """

    kind: str
    n_workers: Optional[int] = None
    address: Optional[str] = None

    @property
    def distributed(self) -> bool:
        return self.kind != "none"


def parse_scheduler(spec) -> SchedulerSpec:
    """Parse ``none``, ``local``, ``local:N`` or a ``tcp://``/``tls://`` address.

    Examples
    --------
    >>> parse_scheduler("local:2")
    SchedulerSpec(kind='local', n_workers=2, address=None)
    >>> parse_scheduler(None).kind
    'none'
    >>> parse_scheduler("tcp://10.0.0.5:8786").address
    'tcp://10.0.0.5:8786'
    """
    if spec is None:
        return SchedulerSpec("none")
    text = str(spec).strip()
    low = text.lower()
    if low in ("", "none", "single"):
        return SchedulerSpec("none")
    if low == "local":
        return SchedulerSpec("local")
    if low.startswith("local:"):
        n = low.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise GeocoreError(f"scheduler '{text}': the number of local workers must be a positive integer, "
                               "e.g. local:4")
        return SchedulerSpec("local", n_workers=int(n))
    if "://" in low and low.split("://", 1)[0] in ("tcp", "tls", "inproc", "ucx", "ws", "wss"):
        return SchedulerSpec("address", address=text)
    raise GeocoreError(f"scheduler '{text}' is not understood; use none, local, local:N or tcp://host:8786")


def _import_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise GeocoreError(f"running on a Dask cluster needs dask.distributed, which is not installed: "
                           f"{INSTALL_HINT}") from exc
    return distributed


def is_client(obj) -> bool:
    """True for a :class:`distributed.Client` (without importing Dask otherwise)."""
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


@contextmanager
def dask_client(scheduler=None, *, processes: bool = True, threads_per_worker: int = 1) -> Iterator:
    """A Dask client for ``scheduler``, closed (with its LocalCluster) at the end.

    Parameters
    ----------
    scheduler : str, SchedulerSpec, Client or None
        See the module notes. A Client passed in is yielded as it is and left
        open.
    processes : bool
        Local workers as processes (default) or as threads of this process.
    threads_per_worker : int
        Threads of each local worker.

    Yields
    ------
    distributed.Client or None
        None for ``none``: run in this process.

    Raises
    ------
    GeocoreError
        For an unknown scheduler, a missing Dask or a cluster that cannot be
        reached.
    """
    if is_client(scheduler):
        yield scheduler
        return
    spec = scheduler if isinstance(scheduler, SchedulerSpec) else parse_scheduler(scheduler)
    if not spec.distributed:
        yield None
        return
    distributed = _import_distributed()
    if spec.kind == "local":
        import dask

        n = spec.n_workers or os.cpu_count() or 1
        # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc map and unmap every
        # large buffer: torch's forward passes ran 2x slower in such a worker (bench/RESULTS.md)
        env = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", None) or {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=int(threads_per_worker),
                                               processes=processes, dashboard_address=None,
                                               silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
            try:
                yield client
            finally:
                client.close()
                cluster.close()
        return
    try:
        client = distributed.Client(spec.address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise GeocoreError(f"cannot reach the Dask scheduler at {spec.address} ({exc}); start it "
                           "(`dask scheduler`) or check the address and port") from exc
    try:
        yield client
    finally:
        client.close()


def limit_worker_threads() -> None:
    """On a Dask worker: let torch (and BLAS) use as many threads as the worker has, not every core.

    ``local:N`` workers have one thread each, so N models run side by side
    instead of N x cores threads fighting for the cores. Outside a worker
    this does nothing.
    """
    import sys

    try:
        from distributed import get_worker

        n = max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(n))


def wait_some(futures, cancel_check, poll_s: float = 0.2):
    """Futures of ``futures`` that are done, waiting until at least one is, checking cancel meanwhile."""
    from distributed import wait

    while True:
        cancel_check()
        try:
            done, _ = wait(futures, timeout=poll_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            continue
        if done:
            return done
