"""Dropout layer (given): the work happens in `functional.Dropout`."""

import mytorch.nn.functional as F
from mytorch.nn.module import Module


class Dropout(Module):
    """During training, zeroes each input element with probability `p`.

    The survivors are scaled by 1/(1-p), so nothing changes in eval mode.
    A fresh mask is drawn on every forward call in training mode.

    Args:
        p (float): probability that an element is dropped.
    """

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.Dropout.apply(x, self.p, self.is_train)
