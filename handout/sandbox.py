#!/usr/bin/env python3
"""A few quick sanity checks of your mytorch autograd, with numpy only: python3 sandbox.py

Each check builds a small graph, runs backward, and compares the gradients with
numerical (finite-difference) ones. Use it as a playground while you work.
"""

import numpy as np
from mytorch.nn.activations import ReLU
from mytorch.nn.linear import Linear
from mytorch.nn.loss import CrossEntropyLoss
from mytorch.nn.sequential import Sequential
from mytorch.tensor import Tensor


def numerical_grad(f, x, h=1e-6):
    """d f(x) / dx by central differences, for a scalar-valued f of an ndarray."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        up = f(x)
        x[index] = saved - h
        down = f(x)
        x[index] = saved
        grad[index] = (up - down) / (2 * h)
    return grad


def check(name, ours, theirs):
    ok = np.allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    print(
        f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"\n  yours:    {ours}\n  expected: {theirs}")
    )
    return ok


def test_broadcast_ops():
    a = Tensor.randn(3, 4)
    a.requires_grad = True
    b = Tensor.randn(4)
    b.requires_grad = True
    out = ((a * b + a) / (b * b + Tensor(1.0)) - b).sum()
    out.backward()

    def f_a(x):
        return np.sum((x * b.data + x) / (b.data**2 + 1) - b.data)

    def f_b(y):
        return np.sum((a.data * y + a.data) / (y**2 + 1) - y)

    return check("broadcasting +-*/ grad of a", a.grad.data, numerical_grad(f_a, a.data.copy())) and check(
        "broadcasting +-*/ grad of b", b.grad.data, numerical_grad(f_b, b.data.copy())
    )


def test_linear_relu_cross_entropy():
    np.random.seed(0)
    model = Sequential(Linear(5, 4), ReLU(), Linear(4, 3))
    x = np.random.randn(6, 5)
    y = np.random.randint(3, size=6)
    loss = CrossEntropyLoss()(model(Tensor(x)), Tensor(y))
    loss.backward()
    weight = model[0].weight

    def f(w):
        saved = weight.data
        weight.data = w
        value = CrossEntropyLoss()(model(Tensor(x)), Tensor(y)).data
        weight.data = saved
        return float(value)

    return check(
        "Linear->ReLU->Linear cross-entropy weight grad",
        weight.grad.data,
        numerical_grad(f, weight.data.copy()),
    )


if __name__ == "__main__":
    np.random.seed(11785)
    results = [test_broadcast_ops(), test_linear_relu_cross_entropy()]
    print(f"{sum(results)}/{len(results)} sanity checks passed")
