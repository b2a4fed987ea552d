"""The Tensor: a numpy array with a gradient and a place in the graph."""

import numpy as np

import mytorch.autograd_engine as autograd_engine
from mytorch.nn import functional as F


class Tensor:
    """A numpy array that can take part in autograd.

    Args:
        data (np.ndarray or array-like): the values (converted with np.array).
        requires_grad (bool): whether gradients flow to this tensor.
        is_leaf (bool): whether this tensor was made by the user rather than an operation.
        is_parameter (bool): whether this tensor is a trainable parameter of a module.
    """

    def __init__(self, data, requires_grad=False, is_leaf=True, is_parameter=False):
        self.data = np.array(data)
        self.requires_grad = requires_grad
        self.is_leaf = is_leaf
        self.grad_fn = None  # set by Function.apply on non-leaf tensors
        self.grad = None  # a Tensor once backward has reached this leaf
        self.is_parameter = is_parameter

    def __str__(self):
        return "{}{}".format(
            str(self.data),
            f", grad_fn={self.grad_fn.__class__.__name__}" if self.grad_fn is not None else "",
        )

    def __repr__(self):
        return self.__str__()

    @property
    def shape(self):
        return self.data.shape

    def fill_(self, fill_value):
        """In-place fill of every element."""
        self.data.fill(fill_value)
        return self

    def copy(self):
        """A new leaf Tensor with a copy of the data and no graph."""
        return Tensor(self.data.copy())

    @staticmethod
    def zeros(*shape):
        return Tensor(np.zeros(shape))

    @staticmethod
    def ones(*shape):
        return Tensor(np.ones(shape))

    @staticmethod
    def arange(*interval):
        return Tensor(np.arange(*interval))

    @staticmethod
    def randn(*shape):
        return Tensor(np.random.normal(0, 1, shape))

    @staticmethod
    def empty(*shape):
        return Tensor(np.empty(shape))

    def backward(self):
        """Backpropagates from this tensor, seeding with ones of its shape."""
        autograd_engine.backward(self.grad_fn, Tensor.ones(*self.shape))

    # ------------------------------------------------------------------
    # Operations
    # ------------------------------------------------------------------
    def T(self):
        return F.Transpose.apply(self)

    def reshape(self, *shape):
        return F.Reshape.apply(self, shape)

    def log(self):
        return F.Log.apply(self)

    def exp(self):
        return F.Exp.apply(self)

    def sum(self, axis=None, keepdims=False):
        return F.Sum.apply(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        count = self.data.size if axis is None else self.data.shape[axis]
        return self.sum(axis, keepdims) / Tensor(count)

    def __pow__(self, exponent):
        return F.Pow.apply(self, exponent)

    def sqrt(self):
        return F.Pow.apply(self, 0.5)

    def relu(self):
        return F.ReLU.apply(self)

    def __neg__(self):
        return F.Neg.apply(self)

    def __add__(self, other):
        return F.Add.apply(self, _as_tensor(other))

    def __radd__(self, other):
        return F.Add.apply(_as_tensor(other), self)

    def __sub__(self, other):
        return F.Sub.apply(self, _as_tensor(other))

    def __rsub__(self, other):
        return F.Sub.apply(_as_tensor(other), self)

    def __mul__(self, other):
        return F.Mul.apply(self, _as_tensor(other))

    def __rmul__(self, other):
        return F.Mul.apply(_as_tensor(other), self)

    def __truediv__(self, other):
        return F.Div.apply(self, _as_tensor(other))

    def __rtruediv__(self, other):
        return F.Div.apply(_as_tensor(other), self)

    def __matmul__(self, other):
        return F.MatMul.apply(self, other)


def _as_tensor(value):
    """Wraps python and numpy scalars/arrays as constant Tensors."""
    return value if isinstance(value, Tensor) else Tensor(value)
