"""BatchNorm1d: forward and backward in training mode, then train/eval with SGD."""

import numpy as np
from helpers import run_forward, run_forward_backward, run_steps
from mytorch.nn.activations import ReLU
from mytorch.nn.batchnorm import BatchNorm1d
from mytorch.nn.linear import Linear
from mytorch.nn.sequential import Sequential
from mytorch.optim.sgd import SGD
from rubric import SEED


def linear_batchnorm_relu_forward_train(record):
    np.random.seed(SEED)
    run_forward(record, Sequential(Linear(10, 20), BatchNorm1d(20), ReLU()))


def linear_batchnorm_relu_backward_train(record):
    np.random.seed(SEED)
    run_forward_backward(record, Sequential(Linear(10, 20), BatchNorm1d(20), ReLU()))


def linear_batchnorm_relu_train_eval(record):
    np.random.seed(SEED)
    model = Sequential(Linear(10, 20), BatchNorm1d(20), ReLU())
    run_steps(record, model, SGD(model.parameters()), 5, 5)


def big_linear_batchnorm_relu_train_eval(record):
    np.random.seed(SEED)
    model = Sequential(Linear(10, 20), BatchNorm1d(20), ReLU(), Linear(20, 30), BatchNorm1d(30), ReLU())
    run_steps(record, model, SGD(model.parameters()), 5, 5)
