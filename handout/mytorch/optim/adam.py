"""The Adam optimizer (Kingma and Ba, 2015): https://arxiv.org/abs/1412.6980"""

import numpy as np

from mytorch.optim.optimizer import Optimizer


class Adam(Optimizer):
    """Adam: adaptive moment estimation.

    >>> optimizer = Adam(model.parameters(), lr=1e-3)

    Args:
        params (iterable of Tensor): usually `model.parameters()`.
        lr (float): learning rate.
        betas (tuple(float, float)): decay rates of the running averages of the
            gradient and of its square.
        eps (float): added to the denominator for numerical stability.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.lr = lr
        self.betas = betas
        self.eps = eps

        # One pair of moment estimates per parameter, as zero arrays
        self.state = [{"m_t": np.zeros(p.shape), "v_t": np.zeros(p.shape)} for p in self.params]

        # The number of steps taken so far
        self.t = 0

    def step(self):
        b1, b2 = self.betas  # for convenience
        self.t += 1  # increment the step count first

        raise NotImplementedError("TODO: Implement Adam.step() for hw1 bonus!")
