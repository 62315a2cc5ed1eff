"""Empty-mask policies.

A policy says what a metric returns when the reference is empty (``"ref"``),
the prediction is empty (``"pred"``) or both are (``"both"``).  Values are
nan, inf, 0, 1, any number, ``"worst"`` (the image diagonal in mm for
distances, the worst score otherwise) or ``"error"`` (raise, as MedPy does).
"""

from __future__ import annotations

import math
from numbers import Real

from . import registry as _registry

CASES = ("ref", "pred", "both")
_NAMED = {"nan": math.nan, "inf": math.inf, "+inf": math.inf}


class EmptyMaskError(ValueError):
    """Raised for an empty mask when the empty-mask policy says ``"error"``.

    A subclass of ``ValueError``.  The ``medpy`` convention raises it for HD / HD95 / ASSD with
    any empty mask (MedPy 0.5.2 raises ``RuntimeError`` there), ``panoptica`` for HD / HD95 /
    NSD (its evaluator has no handler); any metric raises it when given
    ``empty="error"`` or ``empty={metric: {case: "error"}}``.  The message names the metric
    and which mask is empty.

    See Also
    --------
    segscore.metrics.empty : the policy values and the three cases ("ref", "pred", "both").

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((4, 4), bool); ref[1:3, 1:3] = True
    >>> empty = np.zeros_like(ref)
    >>> ss.hd95(empty, ref, convention="medpy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    segscore.metrics.empty.EmptyMaskError: hd95: the prediction is empty (the convention's policy is to raise; ...)
    >>> ss.dice(empty, empty, empty={"dice": {"both": "error"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    segscore.metrics.empty.EmptyMaskError: dice: both masks are empty ...
    >>> try:
    ...     ss.hd95(empty, ref, convention="medpy")
    ... except ss.EmptyMaskError:
    ...     print("empty")
    empty
    """


def family(metric: str) -> str:
    """Policy family of a metric name: hd95 / hd99.5 -> hdp, nsd@2 -> nsd, ... (the metric
    registry's ``family``; a name it does not know is its own family, without any "@...")."""
    hit = _registry.match(metric, aliases=False) or _registry.match(metric.split("@")[0], aliases=False)
    return hit[0].family if hit is not None else metric.split("@")[0]


def _check_value(v, where):
    if isinstance(v, str):
        key = v.lower()
        if key in _NAMED or key in ("worst", "error"):
            return key
        raise ValueError(f"empty policy {where}: unknown value {v!r}; use nan, inf, 0, 1, a number, 'worst' or 'error'")
    if isinstance(v, bool) or not isinstance(v, Real):
        raise ValueError(f"empty policy {where}: value must be a number or a string, got {v!r}")
    return float(v)


def normalize(empty) -> dict:
    """Validate a user policy: None, a value for everything, or {metric: value | {case: value}}."""
    if empty is None:
        return {}
    if not isinstance(empty, dict):
        v = _check_value(empty, "(all metrics)")
        return {"*": {c: v for c in CASES}}
    out = {}
    for metric, spec in empty.items():
        if not isinstance(metric, str):
            raise ValueError(f"empty policy keys must be metric names, got {metric!r}")
        if isinstance(spec, dict):
            bad = set(spec) - set(CASES)
            if bad:
                raise ValueError(f"empty policy for {metric!r}: unknown cases {sorted(bad)}; use 'ref', 'pred', 'both'")
            out[metric] = {c: _check_value(v, f"{metric}[{c}]") for c, v in spec.items()}
        else:
            v = _check_value(spec, metric)
            out[metric] = {c: v for c in CASES}
    return out


def case_of(n_pred: int, n_ref: int) -> str | None:
    if n_pred and n_ref:
        return None
    if not n_pred and not n_ref:
        return "both"
    return "ref" if not n_ref else "pred"


def resolve(metric: str, case: str, user: dict, defaults: dict, worst: float):
    """The value `metric` takes in empty `case`, or raise under "error"."""
    fam = family(metric)
    value = None
    for key in (metric, fam, "*"):
        if key in user and case in user[key]:
            value = user[key][case]
            break
    if value is None:
        value = defaults.get(fam, defaults.get(metric, {})).get(case, math.nan)
    if value == "error":
        what = {"ref": "the reference is empty", "pred": "the prediction is empty", "both": "both masks are empty"}[case]
        raise EmptyMaskError(f"{metric}: {what} (the convention's policy is to raise; pass empty= to choose a value)")
    if value == "worst":
        return worst
    if isinstance(value, str):
        return _NAMED[value]
    return float(value)
