"""The one helper that fills docstring templates: shared parameter sections and
defaults read from the signature, so that no default is written twice."""

from __future__ import annotations

import inspect
import re

_SECTION = re.compile(r"^ *%\((\w+)\)s\n", flags=re.M)
_DEFAULT = re.compile(r"\{default_(\w+)\}")


def filled(template: str, sections: dict, defaults: dict) -> str:
    """``template`` with each line ``%(name)s`` replaced by ``sections[name]`` and
    then each ``{default_x}`` by ``defaults["x"]`` (a string in double quotes).

    Raises ``KeyError`` naming a placeholder that nothing fills, so that none can
    reach a rendered docstring.

    Examples
    --------
    >>> template = "    %(shared)s\\n    more\\n"
    >>> filled(template, {"shared": "    k : int, default={default_k}\\n"}, {"k": 25})
    '    k : int, default=25\\n    more\\n'
    """

    def section(match):
        return sections[match.group(1)]

    def default(match):
        value = defaults[match.group(1)]
        # numpydoc's style: default="class" for a string, default=25 otherwise
        return f'"{value}"' if isinstance(value, str) else str(value)

    return _DEFAULT.sub(default, _SECTION.sub(section, template))


def signature_defaults(documented) -> dict:
    """The defaults of ``documented``'s parameters (a class: its ``__init__``)."""
    call = documented.__init__ if inspect.isclass(documented) else documented
    return {
        name: parameter.default
        for name, parameter in inspect.signature(call).parameters.items()
        if parameter.default is not parameter.empty
    }


def with_docs(**sections):
    """Decorator: fill the docstring of a function or class with ``sections`` and
    with the defaults of its own signature (see :func:`filled`)."""

    def decorate(documented):
        documented.__doc__ = filled(
            documented.__doc__, sections, signature_defaults(documented)
        )
        return documented

    return decorate
