"""Stochastic gradient descent with momentum."""

import numpy as np

from mytorch.optim.optimizer import Optimizer


class SGD(Optimizer):
    """v = momentum * v + grad; param -= lr * v  (as torch.optim.SGD)

    Args:
        params (iterable of Tensor): usually `model.parameters()`.
        lr (float): learning rate.
        momentum (float): momentum factor (0 for plain SGD).
    """

    def __init__(self, params, lr=0.001, momentum=0.0):
        super().__init__(params)
        self.lr = lr
        self.momentum = momentum
        self.momentums = [np.zeros(param.shape) for param in self.params]

    def step(self):
        for param, velocity in zip(self.params, self.momentums):
            velocity *= self.momentum
            velocity += param.grad.data
            param.data = param.data - self.lr * velocity
