"""BatchNorm1d: forward and backward in training mode, then train/eval with SGD.

The student's modules come first, in the 2020 order (see test_adam.py); each case takes its seed.
"""

from mytorch.nn.activations import ReLU
from mytorch.nn.batchnorm import BatchNorm1d
from mytorch.nn.linear import Linear
from mytorch.nn.loss import CrossEntropyLoss  # noqa: F401 - imported in 2020 too: the order matters
from mytorch.nn.sequential import Sequential
from mytorch.tensor import Tensor  # noqa: F401
from mytorch.optim.sgd import SGD

import numpy as np
from helpers import run_forward, run_forward_backward, run_steps


def linear_batchnorm_relu_forward_train(record, seed):
    np.random.seed(seed)
    run_forward(record, Sequential(Linear(10, 20), BatchNorm1d(20), ReLU()))


def linear_batchnorm_relu_backward_train(record, seed):
    np.random.seed(seed)
    run_forward_backward(record, Sequential(Linear(10, 20), BatchNorm1d(20), ReLU()))


def linear_batchnorm_relu_train_eval(record, seed):
    np.random.seed(seed)
    model = Sequential(Linear(10, 20), BatchNorm1d(20), ReLU())
    run_steps(record, model, SGD(model.parameters()), 5, 5)


def big_linear_batchnorm_relu_train_eval(record, seed):
    np.random.seed(seed)
    model = Sequential(Linear(10, 20), BatchNorm1d(20), ReLU(), Linear(20, 30), BatchNorm1d(30), ReLU())
    run_steps(record, model, SGD(model.parameters()), 5, 5)
