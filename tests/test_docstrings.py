"""Docstring templates: one helper fills them, and no placeholder survives."""

import ast
import importlib
import inspect
import pkgutil
import re

import pytest

import skcrl
from skcrl._docstrings import filled, with_docs

PLACEHOLDER = re.compile(r"%\(\w+\)s|\{default_\w+\}")
ENTRY = re.compile(r"^    (\w+) : .*default=(.+)$", flags=re.M)


def _documented_objects():
    modules = [skcrl] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(skcrl.__path__, prefix="skcrl.")
        if not info.name.endswith("__main__")
    ]
    seen = {}
    for module in modules:
        for value in vars(module).values():
            if getattr(value, "__module__", "").startswith("skcrl") and (
                inspect.isclass(value) or inspect.isfunction(value)
            ):
                seen[f"{value.__module__}.{value.__qualname__}"] = value
                if inspect.isclass(value):
                    for member in vars(value).values():
                        if inspect.isfunction(member) and member.__doc__:
                            seen[f"{value.__module__}.{member.__qualname__}"] = member
    return seen


def test_no_placeholder_survives_in_any_docstring():
    objects = _documented_objects()
    assert "skcrl._loss.crl_loss" in objects
    left = {
        name: PLACEHOLDER.findall(obj.__doc__)
        for name, obj in objects.items()
        if obj.__doc__
        and PLACEHOLDER.search(obj.__doc__)
        and obj.__module__ != "skcrl._docstrings"  # the helper shows its syntax
    }
    assert left == {}


@pytest.mark.parametrize(
    "documented",
    [
        skcrl.crl_loss,
        skcrl.ClassRectificationLoss,
        skcrl.CRLClassifier,
        skcrl.CRLMultiLabelClassifier,
    ],
)
def test_documented_defaults_are_the_signature_defaults(documented):
    call = documented.__init__ if inspect.isclass(documented) else documented
    parameters = inspect.signature(call).parameters
    checked = 0
    for name, written in ENTRY.findall(documented.__doc__):
        if name not in parameters:
            continue  # e.g. iterator_train__shuffle, passed through **kwargs
        try:
            value = ast.literal_eval(written.strip())
        except (ValueError, SyntaxError):
            continue  # a class, written by its dotted name
        assert value == parameters[name].default, name
        checked += 1
    assert checked >= 8


def test_filled_by_hand():
    template = "Head.\n\n    %(shared)s\n    own : int, default={default_own}\n"
    shared = "    kind : str, default={default_kind}\n        What it is.\n"
    assert filled(template, {"shared": shared}, {"own": 3, "kind": "class"}) == (
        'Head.\n\n    kind : str, default="class"\n        What it is.\n'
        "    own : int, default=3\n"
    )


def test_a_placeholder_nothing_fills_is_an_error():
    with pytest.raises(KeyError, match="missing"):
        filled("    %(missing)s\n", {}, {})
    with pytest.raises(KeyError, match="b"):
        filled("a : int, default={default_b}", {}, {})


def test_with_docs_reads_the_signature():
    @with_docs(shared="    b : float, default={default_b}\n")
    def documented(a, b=0.25):
        """Doc.

        Parameters
        ----------
        a : int
        %(shared)s
        """

    assert "    b : float, default=0.25\n" in documented.__doc__
