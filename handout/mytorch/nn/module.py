"""Base class of every layer and model."""

from mytorch.tensor import Tensor


class Module:
    """Base class of layers and models.

    Assigning a Module or a parameter Tensor to an attribute registers it, so
    `parameters()` finds it and `train()`/`eval()` reach every submodule.
    Subclasses call `super().__init__()` first and define `forward`.
    """

    def __init__(self):
        self._submodules = {}
        self._parameters = {}
        self.is_train = True

    def train(self):
        """Sets this module and its submodules to training mode."""
        self.is_train = True
        for submodule in self._submodules.values():
            submodule.train()

    def eval(self):
        """Sets this module and its submodules to evaluation mode."""
        self.is_train = False
        for submodule in self._submodules.values():
            submodule.eval()

    def forward(self, *args):
        raise NotImplementedError("Subclasses of Module must implement forward")

    def __call__(self, *args):
        return self.forward(*args)

    def parameters(self):
        """Yields every parameter Tensor of this module and its submodules."""
        self._ensure_is_initialized()
        for parameter in self._parameters.values():
            yield parameter
        for submodule in self._submodules.values():
            yield from submodule.parameters()

    def add_module(self, name, value):
        self._ensure_is_initialized()
        self._submodules[name] = value

    def add_parameter(self, name, value):
        self._ensure_is_initialized()
        self._parameters[name] = value

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self.add_module(name, value)
        elif isinstance(value, Tensor) and value.is_parameter:
            self.add_parameter(name, value)
        object.__setattr__(self, name, value)

    def _ensure_is_initialized(self):
        if "_submodules" not in self.__dict__:
            raise Exception("Module not initialized. Did you call `super().__init__()` first?")
