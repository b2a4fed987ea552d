"""Bonus parts written two more ways for the similarity tests: the reference disguised (renamed
variables, reordered methods, other comments) and an independent solution in another style; and
code of a student's own that no one else writes."""

import random

# The reference's code with every local name changed, methods in another order, new comments.
DISGUISED = {
    "optim/adam.py": """
import numpy as np
from mytorch.optim.optimizer import Optimizer


class Adam(Optimizer):
    def step(self):
        beta_one, beta_two = self.betas
        self.t += 1
        # walk over every weight and its moment estimates
        for weight, moments in zip(self.params, self.state):
            g = weight.grad.data
            moments["m_t"] = beta_one * moments["m_t"] + (1 - beta_one) * g  # first moment
            moments["v_t"] = beta_two * moments["v_t"] + (1 - beta_two) * g**2  # second moment
            first = moments["m_t"] / (1 - beta_one**self.t)
            second = moments["v_t"] / (1 - beta_two**self.t)
            weight.data = weight.data - self.lr * first / (np.sqrt(second) + self.eps)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.state = [{"m_t": np.zeros(p.shape), "v_t": np.zeros(p.shape)} for p in self.params]
        self.t = 0
""",
    "nn/batchnorm.py": '''
import numpy as np
from mytorch.nn.module import Module
from mytorch.tensor import Tensor


class BatchNorm1d(Module):
    def forward(self, inp):
        """normalize the batch"""
        if not self.is_train:
            # use what we saw during training
            xhat = (inp - self.running_mean) / (self.running_var + self.eps).sqrt()
            return self.gamma * xhat + self.beta

        n = inp.shape[0]
        mu = inp.sum(axis=0) / Tensor(n)
        diff = inp - mu
        sigma2 = (diff * diff).sum(axis=0) / Tensor(n)
        xhat = diff / (sigma2 + self.eps).sqrt()

        mom = self.momentum.data
        sigma2_unbiased = sigma2.data * n / (n - 1)  # Bessel
        self.running_mean = Tensor((1 - mom) * self.running_mean.data + mom * mu.data)
        self.running_var = Tensor((1 - mom) * self.running_var.data + mom * sigma2_unbiased)
        return self.gamma * xhat + self.beta

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = Tensor(np.array([eps]))
        self.momentum = Tensor(np.array([momentum]))
        self.gamma = Tensor(np.ones((self.num_features,)), requires_grad=True, is_parameter=True)
        self.beta = Tensor(np.zeros((self.num_features,)), requires_grad=True, is_parameter=True)
        self.running_mean = Tensor(np.zeros(self.num_features), requires_grad=False, is_parameter=False)
        self.running_var = Tensor(np.ones(self.num_features), requires_grad=False, is_parameter=False)
''',
    "dropout": """
class Dropout(Function):
    @staticmethod
    def backward(ctx, dout):
        # no mask means eval mode: gradient passes through
        if ctx.mask is None:
            return tensor.Tensor(dout.data.copy()), None, None
        return tensor.Tensor(dout.data * ctx.mask / (1 - ctx.p)), None, None

    @staticmethod
    def forward(ctx, inp, p=0.5, is_train=False):
        if not type(inp).__name__ == "Tensor":
            raise Exception("Only dropout for tensors is supported")
        ctx.p = p
        ctx.mask = None
        if not is_train or p == 0:
            return tensor.Tensor(inp.data.copy())
        ctx.mask = np.random.binomial(1, 1 - p, size=inp.shape)
        return tensor.Tensor(inp.data * ctx.mask / (1 - p))
""",
}

# Correct too, written independently: other formulas, loops and helpers.
INDEPENDENT = {
    "optim/adam.py": """
import numpy as np
from mytorch.optim.optimizer import Optimizer


class Adam(Optimizer):
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
        correction = np.sqrt(1.0 - np.power(b2, self.t)) / (1.0 - np.power(b1, self.t))
        for i in range(len(self.params)):
            p, s = self.params[i], self.state[i]
            s["m_t"] *= b1
            s["m_t"] += (1.0 - b1) * p.grad.data
            s["v_t"] *= b2
            s["v_t"] += (1.0 - b2) * np.square(p.grad.data)
            denominator = np.sqrt(s["v_t"]) + self.eps * np.sqrt(1.0 - np.power(b2, self.t))
            p.data -= self.lr * correction * s["m_t"] / denominator
""",
    "nn/batchnorm.py": """
import numpy as np
from mytorch.nn.module import Module
from mytorch.tensor import Tensor


def _update(running, batch, momentum):
    return Tensor(running.data + momentum * (batch - running.data))


class BatchNorm1d(Module):
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
        m = self.momentum.data[0]
        if self.is_train:
            count = Tensor(np.array(float(x.shape[0])))
            mean = x.sum(axis=0) / count
            square = (x - mean) ** 2 if hasattr(x, "__pow__") else (x - mean) * (x - mean)
            variance = square.sum(axis=0) / count
            self.running_mean = _update(self.running_mean, mean.data, m)
            self.running_var = _update(self.running_var, np.var(x.data, axis=0, ddof=1), m)
        else:
            mean, variance = self.running_mean, self.running_var
        scale = self.gamma / (variance + self.eps).sqrt()
        return (x - mean) * scale + self.beta
""",
    "dropout": """
class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p=0.5, is_train=False):
        if not type(x).__name__ == "Tensor":
            raise Exception("Only dropout for tensors is supported")
        keep = 1.0 - p
        scale = np.ones(x.shape)
        if is_train:
            scale = np.random.binomial(1, keep, size=x.shape) / keep
        ctx.save_for_backward(tensor.Tensor(scale))
        return tensor.Tensor(np.multiply(x.data, scale))

    @staticmethod
    def backward(ctx, grad_output):
        (scale,) = ctx.saved_tensors
        return tensor.Tensor(np.multiply(grad_output.data, scale.data)), None, None
""",
}


def edits(parts: dict[str, str]) -> dict:
    """make_handin edits that put these parts in place of the reference's."""
    from grader.paths import HANDOUT_DIR

    functional = (HANDOUT_DIR / "mytorch" / "nn" / "functional.py").read_text()
    return {
        "optim/adam.py": lambda _: parts["optim/adam.py"],
        "nn/batchnorm.py": lambda _: parts["nn/batchnorm.py"],
        "nn/functional.py": lambda _: functional + "\n\n" + parts["dropout"],
    }


OPERATORS = [
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "//",
    "&",
    "|",
    "^",
    "<<",
    ">>",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "and",
    "or",
    "in",
    "is",
]
OPERANDS = ("v", "1", "'s'", "g(v)", "v[0]", "v.x", "(v or 1)", "not v", "-v", "[v]", "{v: v}", "lambda: v")


def own_code(seed: int) -> str:
    """Code no one else writes: a function of long random expressions (a rich token alphabet)."""
    rng = random.Random(seed)
    lines = [
        f"    v{i} = v " + " ".join(f"{rng.choice(OPERATORS)} {rng.choice(OPERANDS)}" for _ in range(20))
        for i in range(12)
    ]
    return "def own(v, g):\n" + "\n".join(lines) + "\n"
