"""The autograd engine: graph nodes and the backward pass."""

from mytorch import tensor


def backward(grad_fn, grad_of_outputs):
    """Recursive DFS over the graph, handing each node the gradient of its output.

    Args:
        grad_fn (BackwardFunction or AccumulateGrad or None): the current node.
        grad_of_outputs (Tensor): gradient of the final output w.r.t. this node's output.
    """
    if grad_fn is None:
        return
    grads = grad_fn.apply(grad_of_outputs)
    if grads is None:  # AccumulateGrad is a sink
        return
    if not isinstance(grads, tuple):
        grads = (grads,)
    for parent, grad in zip(grad_fn.next_functions, grads):
        if parent is not None and grad is not None:
            backward(parent, grad)


class Function:
    """Superclass of the operations in `functional.py`.

    Subclasses define `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`;
    `apply` runs forward and links the result into the graph.
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("All subclasses must implement forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("All subclasses must implement backward")

    @classmethod
    def apply(cls, *args):
        """Runs `cls.forward` and records its parents for the backward pass.

        Non-Tensor arguments (such as dropout's `p`) get a `None` parent, so that
        `next_functions[i]` always lines up with `args[i]` and with the i-th
        gradient that `backward` returns.
        """
        backward_function = BackwardFunction(cls)
        output_tensor = cls.forward(backward_function.ctx, *args)

        requires_grad = False
        for arg in args:
            if type(arg).__name__ == "Tensor" and arg.requires_grad:
                requires_grad = True
                if arg.is_leaf:
                    backward_function.next_functions.append(AccumulateGrad(arg))
                else:
                    backward_function.next_functions.append(arg.grad_fn)
            else:
                backward_function.next_functions.append(None)

        output_tensor.requires_grad = requires_grad
        output_tensor.is_leaf = not requires_grad
        if requires_grad:
            output_tensor.grad_fn = backward_function
        return output_tensor


class AccumulateGrad:
    """Graph sink of a leaf tensor that requires a gradient: adds into `.grad`."""

    def __init__(self, tensor):
        self.variable = tensor
        self.next_functions = []  # a sink has no parents
        self.function_name = "AccumulateGrad"

    def apply(self, arg):
        """Accumulates the gradient `arg` (a Tensor) into the leaf's `.grad`."""
        if self.variable.grad is None:
            self.variable.grad = tensor.Tensor(arg.data.copy())
        else:
            self.variable.grad.data = self.variable.grad.data + arg.data
        assert self.variable.grad.shape == self.variable.shape, (
            f"gradient shape {self.variable.grad.shape} != tensor shape {self.variable.shape}"
        )


class ContextManager:
    """Carries values from an operation's forward to its backward (`ctx`).

    >>> ctx.save_for_backward(a, b)   # tensors (stored as copies)
    >>> ctx.axis = axis               # anything else, as a plain attribute
    """

    def __init__(self):
        self.saved_tensors = []

    def save_for_backward(self, *args):
        for arg in args:
            if type(arg).__name__ != "Tensor":
                raise Exception(
                    f"Got type {type(arg)} of object {arg}.\nOnly Tensors should be saved in "
                    "save_for_backward. Save constants directly as attributes of ctx."
                )
            self.saved_tensors.append(arg.copy())


class BackwardFunction:
    """Graph node of one operation's output; `apply` runs the operation's backward."""

    def __init__(self, cls):
        self.ctx = ContextManager()
        self._forward_cls = cls
        self.next_functions = []
        self.function_name = cls.__name__

    def apply(self, *args):
        return self._forward_cls.backward(self.ctx, *args)
