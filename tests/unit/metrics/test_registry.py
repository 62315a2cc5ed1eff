"""The metric registry is the one place a metric is declared: ss.evaluate, the empty-mask
families, the surface conventions, the plots, the report, the summary, the CLI help and the
dataset scorers all agree with it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import segscore as ss
from segscore.metrics import empty as E
from segscore.metrics import evaluate as EV
from segscore.metrics import registry as R
from segscore.metrics.surface import conventions as C

SP = (1.0, 0.8, 2.0)


def _pair():
    a = np.zeros((12, 11, 10), np.uint8)
    a[2:7, 2:8, 3:7] = 1
    b = np.zeros_like(a)
    b[3:8, 2:7, 3:8] = 1
    return a, b


def _typed_forms(m: R.Metric) -> list:
    """Names a user may type for an entry: its name (when it is a metric on its own), its
    aliases, and its parameterised form with a sample argument."""
    out = []
    if m.param is None or m.param_default is not None:
        out.append(m.name)
    out += list(m.aliases)
    if m.param is not None:
        out.append(m.prefix + ("99.5" if m.arg == "p" else "1.5"))
    return out


# ---------------------------------------------------------------------- the registry itself
def test_entries_are_well_formed():
    names = [m.name for m in R.METRICS]
    assert len(names) == len(set(names)), "a metric declared twice"
    aliases = [a for m in R.METRICS for a in m.aliases]
    assert not set(aliases) & set(names) and len(aliases) == len(set(aliases))
    for m in R.METRICS:
        assert m.kind in R.KINDS and m.scope in R.SCOPES and m.doc
        assert m.unit in ("", "mm", "mL", "voxels"), m
        if m.kind == R.SURFACE:
            assert m.method and hasattr(ss.SurfaceDistances, m.method), m
        if m.param is not None:
            assert m.arg in ("p", "mm") and m.param.startswith(m.prefix), m
        assert m.param_default in (None, "tolerance", "width")
        assert m.default in (True, False, "tolerance")
        if m.default or m.headline or m.worst_rank is not None or m.printed:
            assert m.scope != R.API, f"{m.name}: a presentation flag on a metric without a column"
    ranks = [m.worst_rank for m in R.METRICS if m.worst_rank is not None]
    assert len(ranks) == len(set(ranks))


def test_metric_is_frozen_and_keyword_built():
    m = R.get("dice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "x"
    with pytest.raises(TypeError):
        R.Metric("x", R.OVERLAP, "doc")  # positional: refused
    with pytest.raises(ValueError, match="kind"):
        R.Metric(name="x", kind="nope", doc="d")


def test_lookup_and_column():
    assert R.lookup("hausdorff") is R.get("hd") and R.column("hausdorff") is None  # aliases are input only
    assert R.lookup("volume_similarity") is R.get("vs")
    assert R.column("hd95") is R.get("hd95") and R.column("hd99.5") is R.get("hdp")
    assert R.match("nsd@2") == (R.get("nsd"), "2") and R.match("nsd") == (R.get("nsd"), None)
    assert R.column("biou@0.5") is R.get("biou") and R.column("overlap@1") is R.get("surface_overlap")
    assert R.column("no_such_column") is None and R.lookup("hd1e-05") is None
    assert R.of_family("hdp") is R.get("hd95") and R.of_family("overlap") is R.get("surface_overlap")
    assert R.COUNT_COLUMNS == ("tp", "fp", "fn", "tn")


# ---------------------------------------------------------------------- ss.evaluate
def test_evaluate_constants_come_from_the_registry():
    assert EV.OVERLAP == ("dice", "iou", "precision", "recall", "specificity", "vs")
    assert EV.COUNTS == ("tp", "fp", "fn", "tn", "vol_pred_ml", "vol_ref_ml")
    assert EV.SURFACE_DEFAULT == ("hd", "hd95", "assd", "masd")


def test_every_name_evaluate_accepts_is_in_the_registry():
    a, b = _pair()
    for m in R.select(scope=R.EVALUATE):
        for name in _typed_forms(m):
            res = ss.evaluate(a, b, spacing=SP, metrics=[name], tolerance=1.0)
            (col,) = res.columns
            assert R.column(col) in (m, R.get("hd"), R.get("hd95")), (name, col)
            assert all(isinstance(v[col], (int, float)) for v in res.to_dict().values())
    # what evaluate refuses: names the registry keeps out of evaluate, and unknown names
    refused = [n for m in R.METRICS if m.scope != R.EVALUATE for n in _typed_forms(m)] + ["hdp", "nope", "nsd@"]
    for name in refused:
        with pytest.raises(ValueError, match=r"unknown metric .*known metrics: ") as exc:
            ss.evaluate(a, b, spacing=SP, metrics=[name], tolerance=1.0)
        assert str(R.known(R.EVALUATE)) in str(exc.value)


def test_known_metrics_message_lists_the_registry():
    assert R.known(R.EVALUATE) == ["dice", "iou", "precision", "recall", "specificity", "vs", "tp", "fp", "fn", "tn",
                                   "vol_pred_ml", "vol_ref_ml", "hd", "hd95", "hd<p>", "assd", "masd", "nsd",
                                   "nsd@<mm>", "biou", "biou@<mm>"]


@pytest.mark.parametrize("conv", list(ss.CONVENTIONS))
def test_default_columns_follow_the_registry(conv):
    a, b = _pair()
    c = ss.CONVENTIONS[conv]
    want = [m.name for m in R.select(scope=R.EVALUATE) if m.default is True
            and (m.kind != R.SURFACE or c.defines(m.family))]
    assert ss.evaluate(a, b, spacing=SP, convention=conv, empty=1.0).columns == want
    if c.defines("nsd"):
        cols = ss.evaluate(a, b, spacing=SP, convention=conv, empty=1.0, tolerance=1.5).columns
        assert cols == want + ["nsd@1.5"]


def test_every_evaluate_column_is_known_to_the_registry():
    a, b = _pair()
    res = ss.evaluate(a, b, spacing=SP, tolerance=2.0,
                      metrics=[n for m in R.select(scope=R.EVALUATE) for n in _typed_forms(m)])
    for col in res.columns:
        m = R.column(col)
        assert m is not None and m.scope == R.EVALUATE, col
        assert E.family(col) == m.family


# ---------------------------------------------------------------------- surface conventions
def test_each_family_has_one_definition():
    by_family = {}
    for m in R.METRICS:
        by_family.setdefault(m.family, set()).add(m.defined_by)
    assert all(len(v) == 1 for v in by_family.values()), by_family


@pytest.mark.parametrize("conv", list(ss.CONVENTIONS))
def test_convention_defines_agrees_with_the_registry(conv):
    c = ss.CONVENTIONS[conv]
    for m in R.METRICS:
        want = all(getattr(c, a) not in (None, False) for a in m.defined_by)
        assert c.defines(m.family) == want, (conv, m.name)
    assert c.defines("dice") and c.defines("no-such-family")
    # the empty-mask tables speak of registry families only
    assert set(c.empty) <= {m.family for m in R.METRICS}, set(c.empty) - {m.family for m in R.METRICS}


@pytest.mark.parametrize("conv", list(ss.CONVENTIONS))
def test_evaluate_refuses_exactly_what_the_convention_does_not_define(conv):
    a, b = _pair()
    c = ss.CONVENTIONS[conv]
    if 3 not in c.ndims:
        return
    for m in R.select(scope=R.EVALUATE, kind=R.SURFACE):
        name = _typed_forms(m)[-1]
        if c.defines(m.family):
            ss.evaluate(a, b, spacing=SP, metrics=[name], tolerance=1.0, convention=conv, empty=1.0)
        else:
            with pytest.raises(ValueError, match=f"does not define .*conventions that do: "
                                                 f"{C.conventions_defining(m.family)}".replace("[", r"\[")
                                                 .replace("]", r"\]")):
                ss.evaluate(a, b, spacing=SP, metrics=[name], tolerance=1.0, convention=conv)


def test_conventions_are_keyword_built():
    c = ss.CONVENTIONS["segscore"]
    with pytest.raises(TypeError):
        type(c)(*dataclasses.astuple(c))
    cal = ss.calibration.CALIBRATION_CONVENTIONS["segscore"]
    with pytest.raises(TypeError):
        type(cal)(*dataclasses.astuple(cal))
    assert dataclasses.replace(c, name="copy").name == "copy"


def test_calibration_conventions_define_registry_metrics():
    calib = set(R.names(kind=R.CALIBRATION))
    for name, c in ss.calibration.CALIBRATION_CONVENTIONS.items():
        assert c.metrics - {"reliability"} <= calib, (name, c.metrics - calib)


# ---------------------------------------------------------------------- empty-mask families
@pytest.mark.parametrize("name,fam", [("hd", "hd"), ("hd95", "hdp"), ("hd99.5", "hdp"), ("hd100", "hdp"),
                                      ("hdp", "hdp"), ("nsd@2", "nsd"), ("overlap@1", "overlap"),
                                      ("biou@1", "biou"), ("dice", "dice"), ("asd", "asd"), ("tp", "tp"),
                                      ("foo@3", "foo"), ("volume_similarity", "volume_similarity")])
def test_empty_family(name, fam):
    assert E.family(name) == fam


def test_worst_empty_value_follows_higher_is_better():
    a = np.zeros((8, 8), bool)
    b = np.zeros((8, 8), bool)
    b[2:5, 2:5] = True
    sd = ss.surface_distances(a, b, spacing=(1.0, 1.0), empty="worst", biou_width=1.0)
    assert sd.nsd(1.0) == 0.0 and sd.boundary_iou() == 0.0
    assert sd.hd95() == sd.assd() == pytest.approx(math.hypot(8, 8))


# ---------------------------------------------------------------------- app: plots, report, summary, CLI
def test_plots_and_report_read_the_registry():
    from segscore.app import plots, report

    assert plots.HIGHER_IS_BETTER == {m.name for m in R.METRICS if m.higher_is_better}
    assert {"dice", "consensus_dice", "nsd", "soft_dice"} <= plots.HIGHER_IS_BETTER
    assert {"hd", "hd95", "assd", "ece", "brier", "vol_crps_ml"} <= plots.LOWER_IS_BETTER
    assert plots.WORST_CASES == ("dice", "nsd", "hd95", "hd", "assd")
    assert report.HEADLINE == ("dice", "hd95", "assd", "nsd", "consensus_dice", "ece")
    assert plots._axis_label("hd99") == "hd99 (mm)" and plots._axis_label("vol_pred_ml") == "vol_pred_ml"
    assert plots._axis_label("nsd@2") == "nsd@2" and plots._axis_label("custom") == "custom"
    assert [report._is_headline(c) for c in ("nsd@2", "hd99", "hd95", "ece", "brier", "custom")] == \
        [True, False, True, True, False, False]


def test_worst_cases_order_and_direction():
    pd = pytest.importorskip("pandas")
    from segscore.app import plots

    t = pd.DataFrame({"case": ["a", "b", "c"], "label": [1, 1, 1], "hd": [1.0, 3.0, 2.0], "nsd@2": [0.9, 0.5, 0.7],
                      "dice": [0.8, 0.9, 0.1], "hd99": [5.0, 1.0, 2.0], "custom": [1.0, 2.0, 3.0]})
    w = plots.worst_cases(t, 2)
    assert list(w) == ["dice", "nsd@2", "hd"]  # registry order; hd99 and unknown columns get no table
    assert w["dice"]["case"].tolist() == ["c", "a"] and w["hd"]["case"].tolist() == ["b", "c"]
    assert w["nsd@2"]["case"].tolist() == ["b", "c"]


def test_summary_reads_the_registry(capsys):
    pd = pytest.importorskip("pandas")
    from segscore.app import summary

    assert R.names(printed=True) == ("dice", "hd95")
    t = pd.DataFrame({"case": ["a", "b"], "label": [1, 1], "dice": [0.5, 0.7], "tp": [3, 4], "fp": [0, 1],
                      "fn": [1, 0], "tn": [9, 9]})
    s = summary.summarize(t, n_bootstrap=0)
    assert s["metric"].tolist() == ["dice"]  # counts get no statistics


def test_cli_help_lists_the_registry_and_the_conventions(capsys):
    from segscore.app import cli

    with pytest.raises(SystemExit):
        cli.main(["score", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name in R.known(R.EVALUATE):
        assert name in out, name
    for conv in ss.CONVENTIONS:
        assert conv in out


def test_dataset_scorers_write_registry_columns():
    from segscore.app import scorers as D
    from segscore.app.io import Image

    a, b = _pair()
    rng = np.random.default_rng(0)
    prob = np.zeros(a.shape + (2,), np.float32)
    prob[..., 1] = np.clip(b + rng.normal(0, 0.2, a.shape), 0, 1)
    prob[..., 0] = 1 - prob[..., 1]

    def img(x):
        return Image(x, SP, np.diag([*SP, 1.0]), "mem")

    case = D.LoadedCase("c", img(a), img(b), {"r1": img(b), "r2": img(a)}, img(prob))
    cfg = D.Config(has_raters=True, has_probs=True)
    rec = D.score_case(case, cfg)
    cols = {k for row in rec["rows"] for k in row if k not in ("reference", "label")}
    assert {"consensus_dice", "vol_crps_ml", "soft_dice", "ece", "brier", "vol_prob_ml"} <= cols
    for c in cols:
        m = R.column(c)
        assert m is not None and m.scope in (R.EVALUATE, R.DATASET), c
    assert set(R.names(scope=R.DATASET)) <= cols
