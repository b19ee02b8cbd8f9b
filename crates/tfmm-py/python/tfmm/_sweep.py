"""Many runs at once: a grid or a tuning study fanned out over local processes or a Ray
cluster, the prices shipped once rather than once per run."""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from ._api import PathLike, _config, _path, run
from ._prices import Prices, TimeLike, normalise
from ._results import Result

BACKENDS = ("serial", "local", "ray")

# A worker process's copy of the sweep's prices, set once by the pool's initializer.
_worker_prices: Optional[Prices] = None


def _init_worker(prices: Optional[Prices]) -> None:
    global _worker_prices
    _worker_prices = prices


def _run_one(
    config: dict[str, Any], prices: Optional[Prices], options: dict[str, Any]
) -> Result:
    return run(config, prices, **options)


def _run_in_worker(config: dict[str, Any], options: dict[str, Any]) -> Result:
    return _run_one(config, _worker_prices, options)


def sweep(
    configs: Sequence[dict[str, Any]],
    prices: Any = None,
    data_dir: Optional[PathLike] = None,
    *,
    start: Optional[TimeLike] = None,
    base_dir: Optional[PathLike] = None,
    backend: str = "local",
    max_workers: Optional[int] = None,
) -> list[Result]:
    """Runs every config (as :func:`run`) and returns the results in the same order.

    ``backend``:

    - ``"local"``: a pool of ``max_workers`` processes on this machine (default: one per
      CPU), each sent the prices once.
    - ``"ray"``: one Ray task per config on the cluster ``ray.init()`` connected to (started
      locally if none is), the prices put once in Ray's object store and read by every task
      from there. Needs ``pip install tfmm[ray]``.
    - ``"serial"``: one after another in this process.

    Every backend gives the same numbers, bit for bit. Prices as in :func:`run`; with none
    given, each run loads its own from ``data_dir``, its config's ``data.dir`` or the
    embedded data. Build ``configs`` by hand or with :func:`tfmm.grid`.
    """
    if isinstance(configs, dict) or not isinstance(configs, Sequence):
        raise TypeError(f"configs: must be a list of config dicts, not {type(configs).__name__}")
    for i, c in enumerate(configs):
        if not isinstance(c, dict):
            raise TypeError(f"configs[{i}]: must be a dict, not {type(c).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r}: must be one of {', '.join(BACKENDS)}")
    shared = normalise(prices, start)
    options = {"data_dir": _path(data_dir), "base_dir": _path(base_dir)}
    if not configs:
        return []
    if backend == "serial":
        return [_run_one(_config(c), shared, options) for c in configs]
    if backend == "local":
        return _local(list(configs), shared, options, max_workers)
    return _ray(list(configs), shared, options)


def _local(
    configs: list[dict[str, Any]],
    prices: Optional[Prices],
    options: dict[str, Any],
    max_workers: Optional[int],
) -> list[Result]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(max_workers or os.cpu_count() or 1, len(configs)))
    # "spawn", not "fork": a forked child inherits no threads, so a rayon pool that
    # training started in this process would hang its first parallel call there.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(prices,),
    ) as pool:
        return list(pool.map(_run_in_worker, configs, [options] * len(configs)))


_remote_run = None


def _ray(
    configs: list[dict[str, Any]], prices: Optional[Prices], options: dict[str, Any]
) -> list[Result]:
    try:
        import ray
    except ImportError as e:
        raise ImportError(
            "backend='ray' needs Ray: pip install 'tfmm[ray]' (or pip install ray)"
        ) from e
    global _remote_run
    if not ray.is_initialized():
        ray.init()
    if _remote_run is None:
        _remote_run = ray.remote(num_cpus=1)(_run_one)
    # Ray hands a top-level ObjectRef argument to the task as its value: every task reads
    # the one copy in the object store (numpy arrays without a copy).
    prices_ref = ray.put(prices)
    return ray.get([_remote_run.remote(c, prices_ref, options) for c in configs])
