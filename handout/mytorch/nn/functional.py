"""The differentiable operations of mytorch, each a `Function` with forward and backward."""

import numpy as np

from mytorch import tensor
from mytorch.autograd_engine import Function


def unbroadcast(grad, shape):
    """Sums `grad` (np.ndarray) down to `shape`, undoing numpy broadcasting."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.reshape(shape)


def _check_tensors(*args):
    for arg in args:
        if type(arg).__name__ != "Tensor":
            raise Exception(f"Arg for this operation must be a Tensor, got {type(arg).__name__}")


def _save_operands(ctx, a, b):
    """Saves both operands and whether each needs a gradient."""
    _check_tensors(a, b)
    ctx.save_for_backward(a, b)
    ctx.needs_grad = (a.requires_grad, b.requires_grad)


def _grads(ctx, grad_a, grad_b):
    """The gradients of both operands, summed to their shapes (None where none is needed)."""
    a, b = ctx.saved_tensors
    return tuple(
        tensor.Tensor(unbroadcast(grad, operand.shape)) if needed else None
        for operand, grad, needed in zip((a, b), (grad_a, grad_b), ctx.needs_grad)
    )


class Transpose(Function):
    @staticmethod
    def forward(ctx, a):
        _check_tensors(a)
        if a.data.ndim != 2:
            raise Exception(f"Arg for Transpose must be 2D tensor: {a.shape}")
        return tensor.Tensor(a.data.T)

    @staticmethod
    def backward(ctx, grad_output):
        return tensor.Tensor(grad_output.data.T)


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        _check_tensors(a)
        ctx.shape = a.shape
        return tensor.Tensor(a.data.reshape(shape))

    @staticmethod
    def backward(ctx, grad_output):
        return tensor.Tensor(grad_output.data.reshape(ctx.shape)), None


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        _check_tensors(a)
        return tensor.Tensor(-a.data)

    @staticmethod
    def backward(ctx, grad_output):
        return tensor.Tensor(-grad_output.data)


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        _check_tensors(a)
        ctx.save_for_backward(a)
        return tensor.Tensor(np.log(a.data))

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return tensor.Tensor(grad_output.data / a.data)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        _check_tensors(a)
        out = np.exp(a.data)
        ctx.out = out
        return tensor.Tensor(out)

    @staticmethod
    def backward(ctx, grad_output):
        return tensor.Tensor(grad_output.data * ctx.out)


class Pow(Function):
    """Elementwise power by a constant (python or numpy scalar) exponent."""

    @staticmethod
    def forward(ctx, a, exponent):
        _check_tensors(a)
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return tensor.Tensor(np.power(a.data, exponent))

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        grad = grad_output.data * ctx.exponent * np.power(a.data, ctx.exponent - 1)
        return tensor.Tensor(grad), None


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        _check_tensors(a)
        ctx.shape = a.shape
        ctx.axis = axis
        ctx.keepdims = keepdims
        return tensor.Tensor(np.sum(a.data, axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad_output):
        grad = grad_output.data
        if ctx.axis is not None and not ctx.keepdims:
            grad = np.expand_dims(grad, ctx.axis)
        return tensor.Tensor(np.broadcast_to(grad, ctx.shape).copy()), None, None


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return tensor.Tensor(a.data + b.data)

    @staticmethod
    def backward(ctx, grad_output):
        return _grads(ctx, grad_output.data, grad_output.data)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return tensor.Tensor(a.data - b.data)

    @staticmethod
    def backward(ctx, grad_output):
        return _grads(ctx, grad_output.data, -grad_output.data)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return tensor.Tensor(a.data * b.data)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _grads(ctx, grad_output.data * b.data, grad_output.data * a.data)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return tensor.Tensor(a.data / b.data)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _grads(ctx, grad_output.data / b.data, -grad_output.data * a.data / b.data**2)


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return tensor.Tensor(a.data @ b.data)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _grads(ctx, grad_output.data @ b.data.T, a.data.T @ grad_output.data)


class ReLU(Function):
    @staticmethod
    def forward(ctx, a):
        _check_tensors(a)
        ctx.mask = a.data > 0
        return tensor.Tensor(np.where(ctx.mask, a.data, 0.0))

    @staticmethod
    def backward(ctx, grad_output):
        return tensor.Tensor(grad_output.data * ctx.mask)


def cross_entropy(predicted, target):
    """Mean cross-entropy of logits `predicted` (batch, classes) and class indices `target`.

    Returns a Tensor of shape (): the loss averaged over the batch.
    """
    batch_size, num_classes = predicted.shape
    shift = tensor.Tensor(predicted.data.max(axis=1, keepdims=True))  # a constant: no gradient
    shifted = predicted - shift
    log_softmax = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    labels = np.asarray(target.data, dtype=int)
    one_hot = tensor.Tensor(np.eye(num_classes)[labels])
    return (log_softmax * one_hot).sum() / tensor.Tensor(-batch_size)
