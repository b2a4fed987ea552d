"""Explains a wrong dropout output: a valid dropout with another mask, unscaled survivors, no drop."""

from __future__ import annotations

import numpy as np

MASK_HINT = (
    "draw the mask with np.random.binomial(1, 1 - p, size=x.shape), exactly once per forward call "
    "in train mode, and draw nothing else from np.random in between"
)


def explain_dropout(
    output: np.ndarray, dropout_input: np.ndarray, p: float, rtol: float, atol: float
) -> str | None:
    """Why `output` is not the expected dropout of `dropout_input`, if the pattern says so."""
    if output.shape != dropout_input.shape or not np.all(np.isfinite(output)):
        return None
    zero = np.isclose(output, 0.0, rtol=0, atol=atol)
    if np.allclose(output, dropout_input, rtol=rtol, atol=atol) and not np.allclose(
        dropout_input, 0, atol=atol
    ):
        return "your output equals the input: nothing was dropped in training mode (is is_train passed on?)"
    scaled = np.isclose(output, dropout_input / (1 - p), rtol=rtol, atol=atol)
    if np.all(zero | scaled):
        kept = float(np.mean(~zero[dropout_input != 0])) if np.any(dropout_input != 0) else 0.0
        return (
            f"your output is a valid dropout of its input (zeros elsewhere, survivors scaled by 1/(1-p)) "
            f"but with a different mask than expected (you kept {kept:.0%} with p={p:g}): {MASK_HINT}"
        )
    unscaled = np.isclose(output, dropout_input, rtol=rtol, atol=atol)
    if np.all(zero | unscaled):
        return "the kept elements are not scaled: multiply the survivors by 1/(1-p) (inverted dropout)"
    return None
