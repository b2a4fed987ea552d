"""Adam: a Linear model and a two-layer ReLU model, 5 training and 5 eval steps each."""

import numpy as np
from helpers import run_steps
from mytorch.nn.activations import ReLU
from mytorch.nn.linear import Linear
from mytorch.nn.loss import CrossEntropyLoss
from mytorch.nn.sequential import Sequential
from mytorch.optim.adam import Adam
from rubric import SEED


def linear_adam(record):
    np.random.seed(SEED)
    model = Sequential(Linear(10, 20))
    optimizer = Adam(model.parameters())
    run_steps(record, model, optimizer, 5, 5, CrossEntropyLoss())


def big_model_adam(record):
    np.random.seed(SEED)
    model = Sequential(Linear(10, 20), ReLU(), Linear(20, 30), ReLU())
    optimizer = Adam(model.parameters())
    run_steps(record, model, optimizer, 5, 5, CrossEntropyLoss())
