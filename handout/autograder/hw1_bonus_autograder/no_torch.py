"""torch while grading: it may be imported, never used.

The handout allows torch only for your own tests ("other than for testing, do not use any
auto-differentiation toolboxes"). So while the autograder runs, `import torch` (and `torch.nn`,
`from torch.autograd import Variable`, ...) still works, whether torch is installed or not, but
anything taken from it raises TorchNotAvailable when it is used: a test whose graded code calls
torch fails with that message. The local autograder and the server do the same, so a handin gets the
same score on both, with torch installed on your laptop or not.
"""

import importlib.abc
import importlib.machinery
import sys
import types

MESSAGE = (
    "torch is not available while grading; the handout allows it only in your own tests "
    "(your graded code used torch.{})"
)


class TorchNotAvailable(RuntimeError):
    pass


class Unavailable(type):
    """What every name of torch stands for: a class (it can be subclassed, as `class M(nn.Module)`)
    whose use, call or attribute raises TorchNotAvailable."""

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return stand_in(cls.__qualname__ + "." + name)

    def __call__(cls, *args, **kwargs):
        raise TorchNotAvailable(MESSAGE.format(cls.__qualname__))


def stand_in(name):
    return Unavailable(name, (), {"__module__": "torch", "__qualname__": name})


class TorchModule(types.ModuleType):
    """torch, or one of its submodules: every attribute a stand-in."""

    __version__ = "0+unavailable-while-grading"

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        qualified = self.__name__.split(".", 1)[1] + "." + name if "." in self.__name__ else name
        return stand_in(qualified)


class TorchFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers every import of torch or of a module under it, before the real one can."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = TorchModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        parent, _, child = module.__name__.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


def install():
    """From now on this process imports torch as above (a torch imported before is forgotten)."""
    for name in [name for name in sys.modules if name == "torch" or name.startswith("torch.")]:
        del sys.modules[name]
    if not any(isinstance(finder, TorchFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, TorchFinder())
