"""Every one-metric function takes device= (as evaluate and surface_distances do)."""

import numpy as np
import pytest

import segscore as ss

FUNCS = [ss.dice, ss.iou, ss.precision, ss.recall, ss.specificity, ss.volume_similarity, ss.confusion,
         ss.hausdorff, ss.hd95, ss.assd, ss.masd, ss.nsd, ss.surface_overlap, ss.boundary_iou]


def _pair():
    p = np.zeros((9, 9, 9), bool)
    p[2:6, 2:6, 2:6] = True
    return p, np.roll(p, 1, 0)


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
def test_device_cpu_gives_the_default_result(fn):
    p, r = _pair()
    kw = {"tolerance": 1.0} if fn in (ss.nsd, ss.surface_overlap) else {}
    assert fn(p, r, device="cpu", **kw) == fn(p, r, **kw)


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
def test_unknown_device_is_refused(fn):
    p, r = _pair()
    kw = {"tolerance": 1.0} if fn in (ss.nsd, ss.surface_overlap) else {}
    with pytest.raises(ValueError, match="device must be None, 'cpu', 'cuda' or 'cupy'"):
        fn(p, r, device="tpu", **kw)
