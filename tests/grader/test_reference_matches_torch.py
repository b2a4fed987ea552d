"""The reference solution agrees with PyTorch (float64) on every rubric case.

Each case is run twice: through the autograder's own case function on the
reference mytorch, and replayed independently in torch from the same numpy draws.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from grader.paths import AUTOGRADER_DIR  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402

# The handout's published seed, and two of the kind the service derives from a secret.
SEEDS = [11785, 1_234_567_891, 4_000_000_017]
RTOL, ATOL = 1e-9, 1e-11  # both sides compute in float64: far tighter than the rubric's tolerances


@pytest.fixture(scope="module")
def mt(reference_mytorch):
    """The reference mytorch imported in this process, and the autograder's case modules."""
    sys.path[:0] = [str(AUTOGRADER_DIR), str(reference_mytorch.parent)]
    try:
        modules = {
            name: importlib.import_module(name)
            for name in (
                "mytorch.nn.linear",
                "mytorch.nn.batchnorm",
                "mytorch.nn.activations",
                "mytorch.nn.sequential",
                "test_adam",
                "test_dropout",
                "test_batchnorm",
            )
        }
        yield modules
    finally:
        for name in list(sys.modules):
            if name.split(".")[0] in {
                "mytorch",
                "test_adam",
                "test_dropout",
                "test_batchnorm",
                "helpers",
                "rubric",
            }:
                del sys.modules[name]
        del sys.path[:2]


def run_case(mt, problem: str, case: str, seed: int) -> dict[str, np.ndarray]:
    recorded: dict[str, np.ndarray] = {}

    def record(name, value, graded=True):
        if graded:
            recorded[name] = np.array(value)

    getattr(mt[f"test_{problem}"], case)(record, seed)
    return recorded


def to_torch(model, mt) -> torch.nn.Sequential:
    """A float64 torch model with the same layers and initial weights as a mytorch Sequential."""
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Linear":
            linear = torch.nn.Linear(layer.in_features, layer.out_features).double()
            linear.weight.data = torch.tensor(layer.weight.data)
            linear.bias.data = torch.tensor(layer.bias.data)
            layers.append(linear)
        elif kind == "BatchNorm1d":
            layers.append(torch.nn.BatchNorm1d(layer.num_features, eps=1e-5, momentum=0.1).double())
        elif kind == "ReLU":
            layers.append(torch.nn.ReLU())
        else:
            raise AssertionError(kind)
    return torch.nn.Sequential(*layers)


def torch_steps(model, make_optimizer, train_steps, eval_steps, with_loss) -> dict[str, np.ndarray]:
    """The rubric's step procedure in torch: same batch draws, then train and eval steps."""
    out: dict[str, np.ndarray] = {}
    batch = np.random.randint(2, 5)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    x = np.random.randn(batch, linears[0].in_features)
    y = np.random.randint(linears[-1].out_features, size=(batch,))
    optimizer = make_optimizer(model.parameters())

    def forward(prefix):
        xt = torch.tensor(x, requires_grad=True)
        result = model(xt)
        if with_loss:
            result = torch.nn.functional.cross_entropy(result, torch.tensor(y))
        out[f"{prefix}.y"] = result.detach().numpy().copy()
        return xt, result

    model.train()
    for step in range(train_steps):
        optimizer.zero_grad()
        xt, result = forward(f"train{step}")
        result.sum().backward()
        out[f"train{step}.dx"] = xt.grad.numpy().copy()
        for index, linear in enumerate(linears):
            out[f"train{step}.linear{index}.dW"] = linear.weight.grad.numpy().copy()
            out[f"train{step}.linear{index}.db"] = linear.bias.grad.numpy().copy()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for step in range(eval_steps):
            forward(f"eval{step}")
    return out


def assert_same(mine: dict, theirs: dict) -> None:
    assert list(mine) == list(theirs)
    for key in mine:
        assert mine[key].shape == theirs[key].shape, key
        np.testing.assert_allclose(mine[key], theirs[key], rtol=RTOL, atol=ATOL, err_msg=key)


def adam(params):
    return torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def sgd(params):
    return torch.optim.SGD(params, lr=1e-3, momentum=0.0)


STEP_CASES = {
    # case: (problem, layers as (kind, *args), optimizer, train steps, eval steps, loss)
    "linear_adam": ("adam", [("Linear", 10, 20)], adam, 5, 5, True),
    "big_model_adam": (
        "adam",
        [("Linear", 10, 20), ("ReLU",), ("Linear", 20, 30), ("ReLU",)],
        adam,
        5,
        5,
        True,
    ),
    "linear_batchnorm_relu_train_eval": (
        "batchnorm",
        [("Linear", 10, 20), ("BatchNorm1d", 20), ("ReLU",)],
        sgd,
        5,
        5,
        False,
    ),
    "big_linear_batchnorm_relu_train_eval": (
        "batchnorm",
        [
            ("Linear", 10, 20),
            ("BatchNorm1d", 20),
            ("ReLU",),
            ("Linear", 20, 30),
            ("BatchNorm1d", 30),
            ("ReLU",),
        ],
        sgd,
        5,
        5,
        False,
    ),
    "linear_batchnorm_relu_forward_train": (
        "batchnorm",
        [("Linear", 10, 20), ("BatchNorm1d", 20), ("ReLU",)],
        sgd,
        1,
        0,
        False,
    ),
    "linear_batchnorm_relu_backward_train": (
        "batchnorm",
        [("Linear", 10, 20), ("BatchNorm1d", 20), ("ReLU",)],
        sgd,
        1,
        0,
        False,
    ),
}


def build_mytorch(mt, spec):
    classes = {
        "Linear": mt["mytorch.nn.linear"].Linear,
        "BatchNorm1d": mt["mytorch.nn.batchnorm"].BatchNorm1d,
        "ReLU": mt["mytorch.nn.activations"].ReLU,
    }
    return mt["mytorch.nn.sequential"].Sequential(*(classes[kind](*args) for kind, *args in spec))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", sorted(STEP_CASES))
def test_reference_matches_torch_on_step_cases(mt, case, seed):
    problem, spec, optimizer, train_steps, eval_steps, with_loss = STEP_CASES[case]
    mine = run_case(mt, problem, case, seed)

    np.random.seed(seed)
    model = to_torch(build_mytorch(mt, spec), mt)  # the same initial draws, copied into torch
    theirs = torch_steps(model, optimizer, train_steps, eval_steps, with_loss)
    if case == "linear_batchnorm_relu_forward_train":  # forward only: the 2020 test compared no gradients
        theirs = {"train0.y": theirs["train0.y"]}
    assert_same(mine, theirs)


def test_batchnorm_running_statistics_match_torch(mt):
    """Train-mode forwards update the running mean and (unbiased) variance as torch does."""
    bn_class = mt["mytorch.nn.batchnorm"].BatchNorm1d
    tensor_class = sys.modules["mytorch.tensor"].Tensor
    np.random.seed(SEEDS[0])
    ours, theirs = bn_class(6), torch.nn.BatchNorm1d(6).double()
    for batch in (2, 3, 7):
        x = np.random.randn(batch, 6) * 3 + 1
        ours(tensor_class(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=RTOL, atol=ATOL)


def relu_linear(x, weight, bias):
    return torch.relu(x @ weight.T + bias)


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_forward_matches_numpy_seeded_formula(mt, seed):
    mine = run_case(mt, "dropout", "dropout_forward", seed)
    np.random.seed(seed)
    x = torch.tensor(np.random.randn(5, 10))
    linear = build_mytorch(mt, [("Linear", 10, 5)])[0]
    mask = torch.tensor(np.random.binomial(1, 1 - 0.6, size=(5, 5)))
    hidden = relu_linear(x, torch.tensor(linear.weight.data), torch.tensor(linear.bias.data))
    assert_same(mine, {"y": (hidden * mask / (1 - 0.6)).numpy(), "eval.y": hidden.numpy()})


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_backward_matches_numpy_seeded_formula(mt, seed):
    mine = run_case(mt, "dropout", "dropout_forward_backward", seed)
    np.random.seed(seed)
    linear = build_mytorch(mt, [("Linear", 10, 20)])[0]
    x = torch.tensor(np.random.randn(5, 10))
    y = torch.tensor(np.random.randint(20, size=(5,)))
    weight = torch.tensor(linear.weight.data, requires_grad=True)
    mask = torch.tensor(np.random.binomial(1, 1 - 0.6, size=(5, 20)))
    out = relu_linear(x, weight, torch.tensor(linear.bias.data)) * mask / (1 - 0.6)
    torch.nn.functional.cross_entropy(out, y).backward()
    assert_same(mine, {"y": out.detach().numpy(), "linear0.dW": weight.grad.numpy()})


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_big_model_step_matches_torch_adam(mt, seed):
    mine = run_case(mt, "dropout", "big_model_step", seed)
    np.random.seed(seed)
    model = build_mytorch(mt, [("Linear", 10, 15), ("Linear", 15, 20)])
    params = [torch.tensor(p.data, requires_grad=True) for p in model.parameters()]
    w0, b0, w1, b1 = params
    x = torch.tensor(np.random.randn(4, 10))
    y = torch.tensor(np.random.randint(20, size=(4,)))
    mask0 = torch.tensor(np.random.binomial(1, 1 - 0.2, size=(4, 15)))
    hidden = relu_linear(x, w0, b0) * mask0 / (1 - 0.2)
    mask1 = torch.tensor(np.random.binomial(1, 1 - 0.1, size=(4, 20)))
    out = relu_linear(hidden, w1, b1) * mask1 / (1 - 0.1)
    torch.nn.functional.cross_entropy(out, y).backward()
    grads = {"linear0.dW": w0.grad.numpy().copy(), "linear1.dW": w1.grad.numpy().copy()}
    optimizer = adam(params)
    optimizer.step()
    theirs = {
        "y": out.detach().numpy(),
        **grads,
        "linear0.W": w0.detach().numpy(),
        "linear1.W": w1.detach().numpy(),
    }
    assert_same(mine, theirs)


def test_every_rubric_case_is_checked_against_torch():
    covered = set(STEP_CASES) | {"dropout_forward", "dropout_forward_backward", "big_model_step"}
    assert {test.case for test in load_rubric().TESTS} == covered
