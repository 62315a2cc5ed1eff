"""The Examples of the public API's docstrings run, and every public name has them.

Every function and class that ``segscore.__all__`` exports must carry a numpydoc
``Examples`` section (a class: in its class docstring) with at least one ``>>>`` line, and
those examples run here as doctests of the installed package: all the docstrings of the
modules that define the public names (methods and helpers there included), plus the
public subpackages.  numpy's print options are fixed for the run; flags ELLIPSIS and
NORMALIZE_WHITESPACE.  An example that needs an optional package (pandas, matplotlib,
nibabel, scipy) skips when it is absent (CI installs them).

Run alone: ``python -m pytest -q tests/unit/test_doctests.py`` (a few seconds).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re

import numpy as np
import pytest

import segscore

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# numpy's defaults, stated so that another test changing them cannot change an example's output
PRINT_OPTIONS = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False, nanstr="nan",
                     infstr="inf", sign="-", floatmode="maxprec", legacy=False)

# modules holding doctests beyond those defining the public names
EXTRA_MODULES = ("segscore", "segscore.calibration", "segscore.calibration.conventions",
                 "segscore.metrics.surface.conventions")

# an example whose source names one of these needs that package
NEEDS = {
    "pandas": ("to_pandas", "score_dataset", "pandas"),
    "matplotlib": ("plot_reliability", "matplotlib"),
    "nibabel": ("nibabel", "score_dataset"),
    "scipy": ("scipy", 'integration="quad"'),
}


def _public():
    """(name, object) of every function and class in segscore.__all__ (constants such as
    CONVENTIONS carry no docstring of their own)."""
    out = []
    for name in segscore.__all__:
        obj = getattr(segscore, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            out.append((name, obj))
    return out


PUBLIC = _public()


def _modules():
    names = sorted({obj.__module__ for _, obj in PUBLIC} | set(EXTRA_MODULES))
    return [importlib.import_module(n) for n in names]


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = {}
    for mod in _modules():
        for t in finder.find(mod, mod.__name__):
            if t.examples:
                tests.setdefault(t.name, t)
    return [tests[k] for k in sorted(tests)]


DOCTESTS = _doctests()


def _examples_section(doc: str) -> str | None:
    m = re.search(r"^Examples\n-{8,}\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", doc, re.S | re.M)
    return None if m is None else m.group(1)


@pytest.mark.parametrize("name,obj", PUBLIC, ids=[n for n, _ in PUBLIC])
def test_public_name_has_examples(name, obj):
    doc = inspect.getdoc(obj) or ""
    section = _examples_section(doc)
    where = f"segscore.{name} ({obj.__module__})"
    assert section is not None, f"{where}: its docstring has no numpydoc 'Examples' section"
    assert ">>>" in section, f"{where}: its 'Examples' section has no doctest (>>> line)"
    collected = {t.name for t in DOCTESTS}
    assert f"{obj.__module__}.{obj.__qualname__}" in collected, f"{where}: its examples are not collected here"


@pytest.mark.parametrize("name,obj", [(n, o) for n, o in PUBLIC if inspect.isfunction(o)],
                         ids=[n for n, o in PUBLIC if inspect.isfunction(o)])
def test_public_function_documents_its_parameters(name, obj):
    """Every parameter of a public function is named in its Parameters section."""
    doc = inspect.getdoc(obj) or ""
    m = re.search(r"^Parameters\n-{8,}\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", doc, re.S | re.M)
    params = [p for p in inspect.signature(obj).parameters.values()]
    if not params:
        return
    assert m is not None, f"segscore.{name}: no numpydoc 'Parameters' section"
    heads = set()
    for line in m.group(1).splitlines():
        if line and not line[0].isspace():  # "name : type", "a, b : type", "**kwargs"
            for part in line.split(" : ")[0].split(","):
                heads.add(part.strip())
    missing = [("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL else "") + p.name
               for p in params]
    missing = [p for p in missing if p not in heads]
    assert not missing, f"segscore.{name}: parameters not documented: {missing}"
    assert re.search(r"^Returns\n-{7,}\n", doc, re.M), f"segscore.{name}: no numpydoc 'Returns' section"


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_doctest(test):
    source = "\n".join(e.source for e in test.examples)
    for package, words in NEEDS.items():
        if any(w in source for w in words):
            try:
                importlib.import_module(package)
            except ImportError:
                pytest.skip(f"this example needs {package}")
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    with np.printoptions(**PRINT_OPTIONS):
        failed, attempted = runner.run(test, out=report.append)
    assert attempted > 0
    assert failed == 0, "".join(report)
