"""Base class of the optimizers."""


class Optimizer:
    """Keeps the parameters to update.

    Args:
        params (iterable of Tensor): usually `model.parameters()`.
    """

    def __init__(self, params):
        self.params = list(params)
        self.state = []

    def step(self):
        raise NotImplementedError("Subclasses of Optimizer must implement step")

    def zero_grad(self):
        """Clears the gradients of every parameter."""
        for param in self.params:
            param.grad = None
