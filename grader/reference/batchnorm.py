"""Batch normalization over the features of 2D inputs: reference solution."""

import numpy as np
from mytorch.nn.module import Module
from mytorch.tensor import Tensor


class BatchNorm1d(Module):
    """As torch.nn.BatchNorm1d: batch statistics in training (biased variance to
    normalize, unbiased variance for the running estimate), running statistics in eval."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = Tensor(np.array([eps]))
        self.momentum = Tensor(np.array([momentum]))
        self.gamma = Tensor(np.ones((self.num_features,)), requires_grad=True, is_parameter=True)
        self.beta = Tensor(np.zeros((self.num_features,)), requires_grad=True, is_parameter=True)
        self.running_mean = Tensor(np.zeros(self.num_features), requires_grad=False, is_parameter=False)
        self.running_var = Tensor(np.ones(self.num_features), requires_grad=False, is_parameter=False)

    def forward(self, x):
        if not self.is_train:
            norm = (x - self.running_mean) / (self.running_var + self.eps).sqrt()
            return self.gamma * norm + self.beta

        batch_size = x.shape[0]
        mean = x.sum(axis=0) / Tensor(batch_size)
        centered = x - mean
        var = (centered * centered).sum(axis=0) / Tensor(batch_size)
        norm = centered / (var + self.eps).sqrt()

        momentum = self.momentum.data
        unbiased_var = var.data * batch_size / (batch_size - 1)
        self.running_mean = Tensor((1 - momentum) * self.running_mean.data + momentum * mean.data)
        self.running_var = Tensor((1 - momentum) * self.running_var.data + momentum * unbiased_var)
        return self.gamma * norm + self.beta
