"""Wrong solutions that course staff have seen, as edits of the reference, with what they deserve.

Each variant lists the rubric tests it must fail (by case name) and a phrase the
failure message of the first of them must contain.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, f"variant anchor not found: {old!r}"
        return text.replace(old, new)

    return edit


@dataclass(frozen=True)
class Variant:
    name: str
    edits: dict = field(hash=False)
    failing: frozenset[str]
    message: str  # expected in the message of the failing tests

    def score(self, rubric) -> int:
        return sum(test.points for test in rubric.TESTS if test.case not in self.failing)


VARIANTS = [
    Variant(
        "adam_without_bias_correction",
        {
            "optim/adam.py": lambda text: replace(
                'm_hat = state["m_t"] / (1 - b1**self.t)', 'm_hat = state["m_t"]'
            )(replace('v_hat = state["v_t"] / (1 - b2**self.t)', 'v_hat = state["v_t"]')(text))
        },
        frozenset({"linear_adam", "big_model_adam", "big_model_step"}),
        "the output in train step 2 (recorded as train1.y)",
    ),
    Variant(
        "dropout_backward_without_rescale",
        {
            "nn/functional.py": replace(
                "grad_output.data * ctx.mask / (1 - ctx.p)", "grad_output.data * ctx.mask"
            )
        },
        frozenset({"dropout_forward_backward", "big_model_step"}),
        "the gradient of Linear #0's weight (recorded as linear0.dW)",
    ),
    Variant(
        "batchnorm_biased_running_variance",
        {
            "nn/batchnorm.py": replace(
                "unbiased_var = var.data * batch_size / (batch_size - 1)", "unbiased_var = var.data"
            )
        },
        frozenset({"linear_batchnorm_relu_train_eval", "big_linear_batchnorm_relu_train_eval"}),
        "the output in eval step 1 (recorded as eval0.y)",
    ),
    Variant(
        "batchnorm_batch_statistics_in_eval",
        {"nn/batchnorm.py": replace("if not self.is_train:", "if False:")},
        frozenset({"linear_batchnorm_relu_train_eval", "big_linear_batchnorm_relu_train_eval"}),
        "the output in eval step 1 (recorded as eval0.y)",
    ),
    Variant(
        "dropout_also_drops_in_eval",
        {"nn/functional.py": replace("if not is_train or p == 0:", "if p == 0:")},
        frozenset({"dropout_forward"}),
        "the output in eval mode (recorded as eval.y)",
    ),
]


BATCHNORM = frozenset(
    {
        "linear_batchnorm_relu_forward_train",
        "linear_batchnorm_relu_backward_train",
        "linear_batchnorm_relu_train_eval",
        "big_linear_batchnorm_relu_train_eval",
    }
)


def prepend(code: str):
    return lambda text: code + text


# Kinds of real 2020 handins (seen in public repositories), as edits of the reference, with what they
# got in 2020 and deserve on the default runtime (the 2020 course's Python 3.8 and numpy 1.18.1).
REAL_2020 = [
    Variant(
        "circular_import",  # resolved by the 2020 test files' import order: activations first
        {
            "nn/functional.py": lambda text: replace(
                "from mytorch import tensor\n", "from mytorch.tensor import *\n"
            )(text).replace("tensor.Tensor(", "Tensor(")
        },
        frozenset(),
        "",
    ),
    Variant(
        "torch_for_its_own_tests",  # allowed: "other than for testing, do not use" torch
        {
            "nn/batchnorm.py": lambda text: (
                "import torch\nimport torch.nn as nn\nfrom torch.autograd import Variable\n"
                + text
                + "\n\nif __name__ == '__main__':\n    print(nn.BatchNorm1d(3)(Variable(torch.ones(2, 3))))\n"
            )
        },
        frozenset(),
        "",
    ),
    Variant(
        "torch_in_graded_code",
        {
            "nn/batchnorm.py": lambda text: (
                "import torch\n"
                + replace(
                    "    def forward(self, x):\n", "    def forward(self, x):\n        torch.manual_seed(0)\n"
                )(text)
            )
        },
        BATCHNORM,
        "torch is not available while grading; the handout allows it only in your own tests",
    ),
    Variant(
        "parenthesized_starred_call",  # f((*shape)) is f(*shape) on Python 3.8, a SyntaxError since 3.9
        {"tensor.py": replace("Tensor.ones(*self.shape)", "Tensor.ones((*self.shape))")},
        frozenset(),
        "",
    ),
    Variant(
        "numpy_float",  # np.float: removed in numpy 1.24
        {"optim/adam.py": replace("self.lr * m_hat", "np.float(self.lr) * m_hat")},
        frozenset(),
        "",
    ),
]
