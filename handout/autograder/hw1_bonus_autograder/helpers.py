"""Procedures shared by the test files: build a batch, step a model, record what it computed.

A case receives `record(name, value, graded=True)` and calls it with each quantity
the student's code produced (always the raw `.data`), in order. The local runner
compares each one at once; the grading service stores them and compares outside.
"""

import numpy as np
from mytorch.tensor import Tensor


def linear_layers(model):
    return [layer for layer in model.layers if type(layer).__name__ == "Linear"]


def draw_batch_size():
    """The 2020 tests drew the batch size right after building the model."""
    return np.random.randint(2, 5)


def make_batch(model, batch_size):
    """Random inputs and labels for `model`: x first, then y (the 2020 order)."""
    layers = linear_layers(model)
    x = np.random.randn(batch_size, layers[0].in_features)
    y = np.random.randint(layers[-1].out_features, size=(batch_size,))
    return x, y


def forward(record, prefix, model, criterion, x, y):
    """One forward pass (plus the loss if there is a criterion); records its output as `<prefix>.y`."""
    x_tensor = Tensor(x, requires_grad=True)
    out = model(x_tensor)
    if criterion is not None:
        out = criterion(out, Tensor(y))
    record(f"{prefix}.y", out.data)
    return x_tensor, out


def backward(record, prefix, model, x_tensor, out):
    """Backpropagates from `out`; records the gradients of x and of every Linear layer."""
    out.backward()
    if x_tensor.grad is None:
        raise AssertionError("x.grad is None after backward(): the gradient did not reach the input")
    record(f"{prefix}.dx", x_tensor.grad.data)
    for index, layer in enumerate(linear_layers(model)):
        for name, param in (("dW", layer.weight), ("db", layer.bias)):
            if param.grad is None:
                raise AssertionError(f"Linear #{index} has no gradient for its {name[1:]} after backward()")
            record(f"{prefix}.linear{index}.{name}", param.grad.data)


def run_forward(record, model, criterion=None):
    """The 2020 `test_forward`: one forward pass on a random batch."""
    x, y = make_batch(model, draw_batch_size())
    forward(record, "train0", model, criterion, x, y)


def run_forward_backward(record, model, criterion=None):
    """The 2020 `test_forward_backward`: one forward and one backward pass."""
    x, y = make_batch(model, draw_batch_size())
    x_tensor, out = forward(record, "train0", model, criterion, x, y)
    backward(record, "train0", model, x_tensor, out)


def run_steps(record, model, optimizer, train_steps, eval_steps, criterion=None):
    """The 2020 `test_step`: train steps (forward, backward, step) then eval forwards, on one batch."""
    x, y = make_batch(model, draw_batch_size())
    model.train()
    for step in range(train_steps):
        optimizer.zero_grad()
        x_tensor, out = forward(record, f"train{step}", model, criterion, x, y)
        backward(record, f"train{step}", model, x_tensor, out)
        optimizer.step()
    model.eval()
    for step in range(eval_steps):
        optimizer.zero_grad()
        forward(record, f"eval{step}", model, criterion, x, y)
    check_parameters(model)


def check_parameters(model):
    """Parameters must still be leaf tensors that require a gradient."""
    for param in model.parameters():
        assert param.requires_grad, "Weights should have requires_grad==True!"
        assert param.is_leaf, "Weights should have is_leaf==True!"
        assert param.is_parameter, "Weights should have is_parameter==True!"


def check_weight_gradient(layer, index):
    """The 2020 checks on a Linear weight after backward."""
    weight = layer.weight
    assert weight.grad is not None, f"Linear #{index} must have a gradient."
    assert weight.grad.grad is None, "Final gradient tensor must not have its own gradient"
    assert weight.grad.grad_fn is None, "Final gradient tensor must not have its own grad function"
    assert weight.requires_grad, "Weight tensor must have requires_grad==True"
    assert weight.is_parameter, "Weight tensor must be marked as a parameter tensor"
