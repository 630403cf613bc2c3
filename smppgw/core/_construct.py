"""Building attrs instances without running ``__init__``: the one home of that speed trick.

Why: the per-message paths build several immutable values per message (decoded PDUs, the
session's RequestReceived/ResponseReceived, a quick receipt, a one-part split). A frozen
attrs ``__init__`` sets each field through ``object.__setattr__`` and runs the validators;
for values whose fields are already known to be valid (read off the wire within its bounds,
assembled from checked parts) that costs more than the work around it. Instead the
instance is created empty and given its whole ``__dict__`` at once.

Rules, so the trick stays harmless:

* only classes declared ``slots=False`` (dict-based), whose ``__dict__`` can be replaced;
* only values the caller vouches for: nothing is checked here (no validators, no
  converters, no defaults unless the caller merged them in);
* only inside ``smppgw.core``: other layers construct values normally
  (``tests/test_layering.py`` looks for the trick anywhere else).

``build`` is the function; ``build_lines`` is the same two steps as source text, for the
decoders ``smppgw.core.codegen`` generates (they run once per PDU received, and the
generated code must not pay a call for it); ``NAMESPACE`` holds the names those lines use.
Slotted classes (``Tlv``) are filled through their slots' own setters instead:
``slot_setter``; a ``NamedTuple`` is built by ``build_tuple``, without its ``__new__``
(a Python function: a frame per call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

__all__ = ["NAMESPACE", "blank", "build", "build_lines", "build_tuple", "slot_setter"]

T = TypeVar("T")

#: An instance of a class without ``__init__`` having run (no field set yet).
blank: Final = object.__new__
_set_attr: Final = object.__setattr__  # bypasses a frozen class's __setattr__
#: ``build_tuple(SomeNamedTuple, (field, ...))``: the fields in order, all of them.
build_tuple: Final = tuple.__new__


def build(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of the dict-based class ``cls`` whose ``__dict__`` is ``values``.

    ``values`` must name every field, already valid (see the module docstring); the dict
    is taken over, not copied.
    """
    obj: T = blank(cls)
    _set_attr(obj, "__dict__", values)
    return obj


def build_lines(target: str, cls: str, values: str) -> list[str]:
    """``build`` as two statements for generated code: ``target = build(cls, values)``
    without the call. ``cls`` and ``values`` are source expressions; the lines need
    ``NAMESPACE`` in the globals they run with."""
    return [f"{target} = _blank({cls})", f"_set_attr({target}, '__dict__', {values})"]


#: The globals ``build_lines`` refers to.
NAMESPACE: Final[dict[str, Any]] = {"_blank": blank, "_set_attr": _set_attr}


def slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The C-level setter of slot ``name`` of the slotted class ``cls``: sets the field of
    an instance from ``blank`` without the frozen ``__setattr__`` or the validators."""
    setter: Callable[[Any, Any], None] = cls.__dict__[name].__set__
    return setter
