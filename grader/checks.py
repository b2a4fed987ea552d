"""One pure function per kind of check of a recorded quantity against the reference.

Each returns None when the check passes, or a message a student can act on.
"""

from __future__ import annotations

import numpy as np

NDARRAY = "numpy.ndarray"


def check_type(name: str, recorded_type: str, value: np.ndarray | None) -> str | None:
    if recorded_type != NDARRAY:
        short = recorded_type.removeprefix("builtins.")
        return f"{name} is a {short}, expected a numpy.ndarray (keep Tensor.data a numpy array)"
    if value is None:
        return f"{name} is a numpy array with a non-numeric dtype, expected floats"
    return None


def check_shape(name: str, value: np.ndarray, expected: np.ndarray) -> str | None:
    if value.shape != expected.shape:
        return f"{name} has shape {value.shape}, expected {expected.shape}"
    return None


def check_finite(name: str, value: np.ndarray, expected: np.ndarray) -> str | None:
    bad = ~np.isfinite(value) & np.isfinite(expected)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf), first at index {index}"
    return None


def check_close(name: str, value: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str | None:
    value = value.astype(np.float64)
    expected = expected.astype(np.float64)
    if np.allclose(value, expected, rtol=rtol, atol=atol):
        return None
    excess = np.abs(value - expected) - (atol + rtol * np.abs(expected))
    index = np.unravel_index(int(np.argmax(excess)), value.shape) if value.ndim else ()
    count = int((excess > 0).sum())
    where = f" at index {tuple(int(i) for i in index)}" if value.ndim else ""
    return (
        f"{name} differs from the expected values in {count} of {value.size} element(s); "
        # The expected value of a hidden instance only to 4 digits: a hint, never an answer to copy.
        f"worst{where}: yours {value[index]:.8g}, expected about {expected[index]:.4g} "
        f"(difference about {abs(value[index] - expected[index]):.2g}; rtol={rtol:g}, atol={atol:g})"
    )
