"""Dropout: forward, forward + backward, and one Adam step of a model with two Dropouts.

The student's modules come first, in the 2020 order (see test_adam.py); each case takes its seed.
"""

from mytorch.nn.activations import ReLU
from mytorch.nn.batchnorm import BatchNorm1d  # noqa: F401 - imported in 2020 too: the order matters
from mytorch.nn.dropout import Dropout
from mytorch.nn.linear import Linear
from mytorch.nn.loss import CrossEntropyLoss
from mytorch.nn.sequential import Sequential
from mytorch.optim.adam import Adam
from mytorch.tensor import Tensor

import numpy as np
from helpers import check_weight_gradient, make_batch


def record_dropout_input(record, model, x):
    """What reached the last Dropout, and its p (not graded: lets the grader explain a wrong mask)."""
    hidden = x
    for layer in model.layers[:-1]:
        hidden = layer(hidden)
    record("dropout_input", hidden.data, graded=False)
    record("dropout_p", np.array(model.layers[-1].p), graded=False)


def dropout_forward(record, seed):
    np.random.seed(seed)
    x = Tensor.randn(5, 10)  # in 2020 this test drew x before building the model
    model = Sequential(Linear(10, 5), ReLU(), Dropout(p=0.6))
    out = model(x)
    record("y", out.data)
    record_dropout_input(record, model, x)

    model.eval()  # in eval mode dropout is the identity and draws nothing
    record("eval.y", model(x).data)


def dropout_forward_backward(record, seed):
    np.random.seed(seed)
    model = Sequential(Linear(10, 20), ReLU(), Dropout(p=0.6))
    x, y = make_batch(model, 5)
    x, y = Tensor(x), Tensor(y)
    out = model(x)
    record("y", out.data)
    record_dropout_input(record, model, x)

    CrossEntropyLoss()(out, y).backward()
    check_weight_gradient(model[0], 0)
    record("linear0.dW", model[0].weight.grad.data)


def big_model_step(record, seed):
    np.random.seed(seed)
    model = Sequential(Linear(10, 15), ReLU(), Dropout(p=0.2), Linear(15, 20), ReLU(), Dropout(p=0.1))
    x, y = make_batch(model, 4)
    x, y = Tensor(x), Tensor(y)
    optimizer = Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-08)

    out = model(x)
    record("y", out.data)

    CrossEntropyLoss()(out, y).backward()
    check_weight_gradient(model[0], 0)
    check_weight_gradient(model[3], 1)
    record("linear0.dW", model[0].weight.grad.data)
    record("linear1.dW", model[3].weight.grad.data)

    optimizer.step()
    record("linear0.W", model[0].weight.data)
    record("linear1.W", model[3].weight.data)
