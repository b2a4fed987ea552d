"""The checks of a quantity your code computed against the expected one, and how a failure is said.

One module for both graders: `./grade.sh 1b` uses it here, and the server loads this very file to
compare (outside the sandbox) what your code produced there. So both give the same messages.
Each check returns None when it passes, or a message you can act on. numpy only.
"""

import re

import numpy as np

NDARRAY = "numpy.ndarray"
_STEP = re.compile(r"^(train|eval)(\d+)\.")
_LINEAR = re.compile(r"^linear(\d+)\.(dW|db|W)$")
_WHAT = {"y": "the output", "dx": "the gradient of the input x", "eval.y": "the output in eval mode"}
_LINEAR_WHAT = {
    "dW": "the gradient of Linear #{}'s weight",
    "db": "the gradient of Linear #{}'s bias",
    "W": "Linear #{}'s weight after the optimizer step",
}


def describe_quantity(name):
    """A quantity in words, its name in the test code after: 'train2.linear0.dW' -> "the gradient of
    Linear #0's weight in train step 3 (recorded as train2.linear0.dW)"."""
    rest, step = name, ""
    match = _STEP.match(name)
    if match:
        step = " in {} step {}".format(match.group(1), int(match.group(2)) + 1)
        rest = name[match.end() :]
    match = _LINEAR.match(rest)
    what = _LINEAR_WHAT[match.group(2)].format(match.group(1)) if match else _WHAT.get(rest)
    if what is None:
        return name
    return "{}{} (recorded as {})".format(what, step, name)


def type_name(value):
    """How a value's type is named in these checks ("numpy.ndarray", "builtins.list", ...)."""
    kind = type(value)
    return "{}.{}".format(kind.__module__, kind.__qualname__)


def check_type(name, recorded_type, value):
    if recorded_type != NDARRAY:
        short = recorded_type[len("builtins.") :] if recorded_type.startswith("builtins.") else recorded_type
        return "{} is a {}, expected a numpy.ndarray (keep Tensor.data a numpy array)".format(name, short)
    if value is None:
        return "{} is a numpy array with a non-numeric dtype, expected floats".format(name)
    return None


def check_shape(name, value, expected):
    if value.shape != expected.shape:
        return "{} has shape {}, expected {}".format(name, value.shape, expected.shape)
    return None


def check_finite(name, value, expected):
    bad = ~np.isfinite(value) & np.isfinite(expected)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return "{} has {} non-finite value(s) (NaN or inf), first at index {}".format(
            name, int(bad.sum()), index
        )
    return None


def check_close(name, value, expected, rtol, atol):
    value = value.astype(np.float64)
    expected = expected.astype(np.float64)
    if np.allclose(value, expected, rtol=rtol, atol=atol):
        return None
    excess = np.abs(value - expected) - (atol + rtol * np.abs(expected))
    index = np.unravel_index(int(np.argmax(excess)), value.shape) if value.ndim else ()
    count = int((excess > 0).sum())
    where = " at index {}".format(tuple(int(i) for i in index)) if value.ndim else ""
    # The expected value only to 4 digits: on the server it belongs to a hidden instance; a hint,
    # never an answer to copy.
    return (
        "{} differs from the expected values in {} of {} element(s); worst{}: yours {:.8g}, expected "
        "about {:.4g} (difference about {:.2g}; rtol={:g}, atol={:g})".format(
            name,
            count,
            value.size,
            where,
            value[index],
            expected[index],
            abs(value[index] - expected[index]),
            rtol,
            atol,
        )
    )


def check(name, recorded_type, value, expected, rtol, atol):
    """Every check in turn, for the quantity called `name`; the first failure's message, or None."""
    label = describe_quantity(name)
    return check_type(label, recorded_type, value) or (
        check_shape(label, value, expected)
        or check_finite(label, value, expected)
        or check_close(label, value, expected, rtol, atol)
    )
