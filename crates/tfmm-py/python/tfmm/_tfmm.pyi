"""The native module (Rust, pyo3). Call it through the typed wrappers in ``tfmm``."""

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

__version__: str

def run(
    config: dict[str, Any],
    prices: Optional[npt.NDArray[np.float64]] = None,
    columns: Optional[list[str]] = None,
    start_ms: Optional[int] = None,
    data_dir: Optional[str] = None,
    base_dir: Optional[str] = None,
    readouts: bool = False,
    out_dir: Optional[str] = None,
) -> dict[str, Any]: ...
def grad(
    config: dict[str, Any],
    objective: str = "daily_log_sharpe",
    prices: Optional[npt.NDArray[np.float64]] = None,
    columns: Optional[list[str]] = None,
    start_ms: Optional[int] = None,
    data_dir: Optional[str] = None,
    base_dir: Optional[str] = None,
    learn_initial_weights: bool = False,
) -> dict[str, Any]: ...
def train(
    config: dict[str, Any],
    prices: Optional[npt.NDArray[np.float64]] = None,
    columns: Optional[list[str]] = None,
    start_ms: Optional[int] = None,
    data_dir: Optional[str] = None,
    base_dir: Optional[str] = None,
    out_dir: Optional[str] = None,
    resume: bool = False,
) -> dict[str, Any]: ...
def walk_forward(
    config: dict[str, Any],
    prices: Optional[npt.NDArray[np.float64]] = None,
    columns: Optional[list[str]] = None,
    start_ms: Optional[int] = None,
    data_dir: Optional[str] = None,
    base_dir: Optional[str] = None,
) -> dict[str, Any]: ...
def load_prices(
    tokens: list[str], data_dir: Optional[str] = None
) -> tuple[int, npt.NDArray[np.float64], list[dict[str, Any]]]: ...
def read_config(path: str) -> dict[str, Any]: ...
def resolve_config(config: dict[str, Any], base_dir: Optional[str] = None) -> dict[str, Any]: ...
