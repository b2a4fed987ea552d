class Dropout(Function):
    """Inverted dropout: reference solution (appended to nn/functional.py)."""

    @staticmethod
    def forward(ctx, x, p=0.5, is_train=False):
        if not type(x).__name__ == "Tensor":
            raise Exception("Only dropout for tensors is supported")
        ctx.p = p
        ctx.mask = None
        if not is_train or p == 0:
            return tensor.Tensor(x.data.copy())
        ctx.mask = np.random.binomial(1, 1 - p, size=x.shape)
        return tensor.Tensor(x.data * ctx.mask / (1 - p))

    @staticmethod
    def backward(ctx, grad_output):
        if ctx.mask is None:
            return tensor.Tensor(grad_output.data.copy()), None, None
        return tensor.Tensor(grad_output.data * ctx.mask / (1 - ctx.p)), None, None
