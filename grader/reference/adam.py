"""The Adam optimizer (Kingma and Ba, 2015): reference solution."""

import numpy as np
from mytorch.optim.optimizer import Optimizer


class Adam(Optimizer):
    """Adam with bias-corrected moment estimates, as torch.optim.Adam."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.state = [{"m_t": np.zeros(p.shape), "v_t": np.zeros(p.shape)} for p in self.params]
        self.t = 0

    def step(self):
        b1, b2 = self.betas
        self.t += 1
        for param, state in zip(self.params, self.state):
            grad = param.grad.data
            state["m_t"] = b1 * state["m_t"] + (1 - b1) * grad
            state["v_t"] = b2 * state["v_t"] + (1 - b2) * grad**2
            m_hat = state["m_t"] / (1 - b1**self.t)
            v_hat = state["v_t"] / (1 - b2**self.t)
            param.data = param.data - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
