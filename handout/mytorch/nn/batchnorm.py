"""Batch normalization over the features of 2D inputs."""

import numpy as np

from mytorch.nn.module import Module
from mytorch.tensor import Tensor


class BatchNorm1d(Module):
    """Batch normalization layer.

    Args:
        num_features (int): number of features of each input row.
        eps (float): added to the variance for numerical stability.
        momentum (float): weight of the newest batch in the running statistics.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features = num_features

        self.eps = Tensor(np.array([eps]))
        self.momentum = Tensor(np.array([momentum]))

        # The learnable affine transform of the normalized output
        self.gamma = Tensor(np.ones((self.num_features,)), requires_grad=True, is_parameter=True)
        self.beta = Tensor(np.zeros((self.num_features,)), requires_grad=True, is_parameter=True)

        # Running statistics, used in eval mode
        self.running_mean = Tensor(np.zeros(self.num_features), requires_grad=False, is_parameter=False)
        self.running_var = Tensor(np.ones(self.num_features), requires_grad=False, is_parameter=False)

    def forward(self, x):
        """
        Args:
            x (Tensor): (batch_size, num_features)
        Returns:
            Tensor: (batch_size, num_features)
        """
        raise NotImplementedError("TODO: Implement BatchNorm1d.forward() for hw1 bonus!")
