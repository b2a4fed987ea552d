"""The HW1 Bonus rubric: 9 tests, 25 points (the 2020 weights and tolerances).

Plain data, standard library only: the local runner and the grading service read it.
Each test runs the function `case` of the module `test_<problem>.py`.
"""

from dataclasses import dataclass

SEED = 11785
MAX_SCORE = 25
# What the server grades on (the 2020 course's environment); your own Python and numpy may differ.
SERVER_RUNTIME = {"python": "3.8", "numpy": "1.18.1", "scipy": "1.4.1"}


@dataclass(frozen=True)
class Test:
    name: str  # the title printed by the local autograder
    autolab: str  # the key of the Autolab scores line
    problem: str  # adam, dropout or batchnorm
    case: str  # function in test_<problem>.py
    points: int
    atol: float  # the 2020 tolerances: rtol 1e-5, atol 1e-6 for dropout, 1e-8 otherwise
    rtol: float = 1e-5


TESTS = (
    Test("Question 1 - Linear XELoss Adam", "Linear Adam", "adam", "linear_adam", 1, 1e-8),
    Test(
        "Question 1 - Linear->ReLU->Linear->ReLU XELoss Adam",
        "Big Linear ReLU XELoss Adam",
        "adam",
        "big_model_adam",
        4,
        1e-8,
    ),
    Test(
        "Question 2.1 - Linear->ReLU->Dropout (Forward)",
        "Linear ReLU Dropout",
        "dropout",
        "dropout_forward",
        3,
        1e-6,
    ),
    Test(
        "Question 2.2 - Linear->ReLU->Dropout (Backward)",
        "Linear ReLU Dropout Backward",
        "dropout",
        "dropout_forward_backward",
        3,
        1e-6,
    ),
    Test(
        "Question 2.2 - Linear->ReLU->Dropout (x2) XELoss Adam",
        "Big Linear BN ReLU Dropout XELoss Adam",
        "dropout",
        "big_model_step",
        4,
        1e-6,
    ),
    Test(
        "Question 3 - Linear->Batchnorm->ReLU Forward (Train)",
        "Linear Batchnorm ReLU Forward (Train)",
        "batchnorm",
        "linear_batchnorm_relu_forward_train",
        1,
        1e-8,
    ),
    Test(
        "Question 3 - Linear->Batchnorm->ReLU Backward (Train)",
        "Linear Batchnorm ReLU Backward (Train)",
        "batchnorm",
        "linear_batchnorm_relu_backward_train",
        1,
        1e-8,
    ),
    Test(
        "Question 3 - Linear->Batchnorm->ReLU (Train/Eval)",
        "Linear Batchnorm ReLU Train/Eval",
        "batchnorm",
        "linear_batchnorm_relu_train_eval",
        2,
        1e-8,
    ),
    Test(
        "Question 3 - Linear->Batchnorm->ReLU->Linear->Batchnorm->ReLU (Train/Eval)",
        "Big Linear Batchnorm ReLU Train/Eval",
        "batchnorm",
        "big_linear_batchnorm_relu_train_eval",
        6,
        1e-8,
    ),
)

PROBLEMS = ("adam", "dropout", "batchnorm")


def tests_of(problem):
    """The tests of one problem, in rubric order."""
    return [test for test in TESTS if test.problem == problem]
