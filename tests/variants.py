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
        "train step 2, output [train1.y]",
    ),
    Variant(
        "dropout_backward_without_rescale",
        {
            "nn/functional.py": replace(
                "grad_output.data * ctx.mask / (1 - ctx.p)", "grad_output.data * ctx.mask"
            )
        },
        frozenset({"dropout_forward_backward", "big_model_step"}),
        "gradient of Linear #0's weight [linear0.dW]",
    ),
    Variant(
        "batchnorm_biased_running_variance",
        {
            "nn/batchnorm.py": replace(
                "unbiased_var = var.data * batch_size / (batch_size - 1)", "unbiased_var = var.data"
            )
        },
        frozenset({"linear_batchnorm_relu_train_eval", "big_linear_batchnorm_relu_train_eval"}),
        "eval step 1, output [eval0.y]",
    ),
    Variant(
        "batchnorm_batch_statistics_in_eval",
        {"nn/batchnorm.py": replace("if not self.is_train:", "if False:")},
        frozenset({"linear_batchnorm_relu_train_eval", "big_linear_batchnorm_relu_train_eval"}),
        "eval step 1, output [eval0.y]",
    ),
    Variant(
        "dropout_also_drops_in_eval",
        {"nn/functional.py": replace("if not is_train or p == 0:", "if p == 0:")},
        frozenset({"dropout_forward"}),
        "output in eval mode [eval.y]",
    ),
]
