"""One lookup for every family of named conventions.

A *convention* is one library's definition of a family of metrics, chosen by name
(``convention="monai"``): the surface conventions (``segscore.CONVENTIONS``, in
metrics/surface/conventions.py) and the calibration conventions
(``segscore.calibration.CALIBRATION_CONVENTIONS``, in calibration/functional.py).  Each
family keeps its own dict of frozen dataclasses, each with a ``name``, a ``peer`` (the
library it mirrors) and a ``defines(metric)`` method; a `ConventionTable` wraps that dict
and gives both families the same lookup and the same error messages:

* ``table.get(name)``: the convention named ``name`` (a convention object is returned as
  it is); ``ValueError("unknown <what> 'x'; choose one of [...]")`` otherwise;
* ``table.require(conv, metric, label)``: ``ValueError("convention 'c' (peer) does not
  define <label>; conventions that do: [...]")`` when ``conv`` does not define ``metric``;
* ``table.defining(metric)``: the sorted names of the conventions that define it.

The table reads the dict at each call, so a convention added to the dict is found.
Imports nothing else of segscore (this is the bottom layer).
"""

from __future__ import annotations


class ConventionTable:
    """The named conventions of one family (see the module docstring).

    ``what``: the family's word in "unknown ..." messages ("convention", "calibration
    convention"); ``entries``: the family's dict {name: convention}; ``kind``: the
    convention class (an instance passed to `get` is returned unchanged)."""

    def __init__(self, what: str, entries: dict, kind: type):
        self.what = what
        self.entries = entries
        self.kind = kind

    def get(self, name):
        if isinstance(name, self.kind):
            return name
        try:
            return self.entries[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.what} {name!r}; choose one of {sorted(self.entries)}") from None

    def names(self, where=None) -> list:
        """Sorted names of the conventions (those for which ``where(conv)`` is true)."""
        return sorted(n for n, c in self.entries.items() if where is None or where(c))

    def defining(self, metric: str) -> list:
        """Sorted names of the conventions that define `metric`."""
        return self.names(lambda c: c.defines(metric))

    def require(self, conv, metric: str, label: str | None = None) -> None:
        """ValueError naming the conventions that do, when `conv` does not define `metric`
        (``label``: the metric's name in the message, default `metric`)."""
        if not conv.defines(metric):
            raise ValueError(
                f"convention {conv.name!r} ({conv.peer}) does not define {label or metric}; "
                f"conventions that do: {self.defining(metric)}"
            )

    def __repr__(self):
        return f"ConventionTable({self.what!r}, {sorted(self.entries)})"
