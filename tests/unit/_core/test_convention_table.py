"""One get / require / defining for every convention family (surface and calibration), with
the messages each family gave before they shared it."""

from __future__ import annotations

import dataclasses

import pytest

import segscore as ss
from segscore._core.conventions import ConventionTable
from segscore.calibration import functional as CF
from segscore.metrics.surface import conventions as SC


def test_both_families_share_the_table():
    assert isinstance(SC.TABLE, ConventionTable) and isinstance(CF.TABLE, ConventionTable)
    assert SC.TABLE.entries is ss.CONVENTIONS
    assert CF.TABLE.entries is ss.calibration.CALIBRATION_CONVENTIONS
    assert SC.get == SC.TABLE.get and SC.require == SC.TABLE.require


@pytest.mark.parametrize("table,get,what,names", [
    (SC.TABLE, SC.get, "convention", sorted(ss.CONVENTIONS)),
    (CF.TABLE, CF.get_convention, "calibration convention", sorted(ss.calibration.CALIBRATION_CONVENTIONS)),
])
def test_get(table, get, what, names):
    conv = get("segscore")
    assert get(conv) is conv and table.get("segscore") is conv
    changed = dataclasses.replace(conv, peer="a variant")
    assert get(changed) is changed  # a convention object passes through
    for bad in ("nope", {}, None, 3):
        with pytest.raises(ValueError) as exc:
            get(bad)
        assert str(exc.value) == f"unknown {what} {bad!r}; choose one of {names}"


def test_require_messages():
    with pytest.raises(ValueError) as exc:
        SC.require(ss.CONVENTIONS["medpy"], "nsd", "NSD")
    assert str(exc.value) == ("convention 'medpy' (medpy 0.5.2) does not define NSD; conventions that do: "
                              "['deepmind', 'metricsreloaded', 'monai', 'monai-subvoxels', 'panoptica', 'segscore']")
    with pytest.raises(ValueError, match=r"does not define masd; conventions that do: \['deepmind'"):
        SC.require(ss.CONVENTIONS["monai"], "masd")
    with pytest.raises(ValueError) as exc:
        ss.ace([0.2, 0.9], [0, 1], convention="torchmetrics")
    assert str(exc.value) == ("convention 'torchmetrics' (torchmetrics 1.9) does not define ACE; conventions that "
                              "do: ['monai', 'netcal', 'segscore']")
    SC.require(ss.CONVENTIONS["segscore"], "biou")  # defined: no error
    assert SC.conventions_defining("biou") == ["metricsreloaded", "segscore"]
    assert CF.TABLE.defining("brier") == ["metricsreloaded", "segscore"]


def test_a_convention_added_to_the_dict_is_found():
    new = dataclasses.replace(ss.CONVENTIONS["segscore"], name="mine", peer="my lab")
    ss.CONVENTIONS["mine"] = new
    try:
        assert SC.get("mine") is new
        assert "mine" in SC.conventions_defining("hd")
    finally:
        del ss.CONVENTIONS["mine"]
    with pytest.raises(ValueError, match="unknown convention 'mine'"):
        SC.get("mine")


def test_generic_table():
    @dataclasses.dataclass(frozen=True)
    class Conv:
        name: str
        peer: str
        has: frozenset

        def defines(self, metric):
            return metric in self.has

    t = ConventionTable("widget convention", {"a": Conv("a", "lib a", frozenset({"x"})),
                                              "b": Conv("b", "lib b", frozenset())}, Conv)
    assert t.names() == ["a", "b"] and t.defining("x") == ["a"] and t.names(lambda c: not c.has) == ["b"]
    with pytest.raises(ValueError, match=r"^unknown widget convention 'c'; choose one of \['a', 'b'\]$"):
        t.get("c")
    with pytest.raises(ValueError, match=r"^convention 'b' \(lib b\) does not define the x; conventions that do: "
                                         r"\['a'\]$"):
        t.require(t.get("b"), "x", "the x")
