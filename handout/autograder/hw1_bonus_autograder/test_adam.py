"""Adam: a Linear model and a two-layer ReLU model, 5 training and 5 eval steps each.

Each case takes the seed of its instance: the handout's published SEED here, a hidden one on
the server. The student's modules are imported first, in the order the 2020 test files used:
some student code only imports cleanly in that order (an import cycle resolved by it).
"""

from mytorch.nn.activations import ReLU
from mytorch.nn.batchnorm import BatchNorm1d  # noqa: F401 - imported in 2020 too: the order matters
from mytorch.nn.linear import Linear
from mytorch.nn.loss import CrossEntropyLoss
from mytorch.nn.sequential import Sequential
from mytorch.optim.adam import Adam
from mytorch.tensor import Tensor  # noqa: F401

import numpy as np
from helpers import run_steps


def linear_adam(record, seed):
    np.random.seed(seed)
    model = Sequential(Linear(10, 20))
    optimizer = Adam(model.parameters())
    run_steps(record, model, optimizer, 5, 5, CrossEntropyLoss())


def big_model_adam(record, seed):
    np.random.seed(seed)
    model = Sequential(Linear(10, 20), ReLU(), Linear(20, 30), ReLU())
    optimizer = Adam(model.parameters())
    run_steps(record, model, optimizer, 5, 5, CrossEntropyLoss())
