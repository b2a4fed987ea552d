"""A chain of layers applied in order."""

from mytorch.nn.module import Module


class Sequential(Module):
    """Passes the input through each layer in turn.

    >>> model = Sequential(Linear(2, 3), ReLU())
    >>> model[0]  # the Linear layer
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = layers
        for index, layer in enumerate(self.layers):
            self.add_module(str(index), layer)

    def __iter__(self):
        yield from self.layers

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
