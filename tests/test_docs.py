"""Every public symbol has a docstring with an example that runs (the examples run as
doctests through --doctest-modules)."""

import importlib
import inspect

import pytest

MODULES = ["levante.ein", "levante.core", "levante.nets", "levante.metrics", "levante.data",
           "levante.models", "levante.train"]


def public(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and inspect.isfunction(v)
                 and v.__module__ == module.__name__]
    for name in names:
        value = getattr(module, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            yield f"{module_name}.{name}", value


SYMBOLS = [item for module in MODULES for item in public(module)]


@pytest.mark.parametrize("name, value", SYMBOLS, ids=[n for n, _ in SYMBOLS])
def test_public_symbol_has_a_runnable_example(name, value):
    doc = inspect.getdoc(value) or ""
    assert doc.strip(), f"{name} has no docstring"
    if inspect.isclass(value) and issubclass(value, BaseException):
        return  # exception types are shown in the examples of the functions that raise them
    assert ">>>" in doc, f"{name} has no example (a >>> line) in its docstring"
