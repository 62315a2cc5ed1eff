"""Hostile lesion-wise inputs run in a subprocess with a timeout: tens of thousands of
one-voxel lesions, instance ids near 2**31, a lesion filling the volume, lesions on every
face of the volume.  Each must finish with the expected counts, never crash or hang."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CODE = {
    "checkerboard_32000_lesions": """
        a = np.zeros((40, 40, 40), bool)
        a[(np.indices(a.shape).sum(0) % 2) == 0] = True
        s = ss.lesionwise(a, a, connectivity="face").summary
        assert s["tp"] == 32000 and s["fp"] == s["fn"] == 0 and s["sq_hd95"] == 0.0
        b = ss.lesionwise(a.astype(np.uint8) * 3, a.astype(np.uint8) * 3, convention="brats2023", challenge="MET")
        assert b.summary["ET"]["n_ref"] == 1   # merged by dilation into one lesion
    """,
    "ids_near_2_31": """
        m = np.zeros((30, 30), np.int64)
        m[1:3, 1:3] = 2**31 - 5
        m[5:7, 5:7] = 7
        s = ss.lesionwise(m, m, convention="monai").summary
        assert s["tp"] == 2 and abs(s["pq"] - 1) < 1e-5
    """,
    "lesion_fills_the_volume": """
        a = np.ones((20, 21, 22), bool)
        s = ss.lesionwise(a, a, metrics=("dice", "hd95", "assd")).summary
        assert s["tp"] == 1 and s["sq_hd95"] == 0.0 and s["sq_assd"] == 0.0
    """,
    "lesions_on_every_face": """
        a = np.zeros((16, 16, 16), bool)
        for ax in range(3):
            for end in (0, -1):
                sl = [slice(6, 9)] * 3
                sl[ax] = slice(0, 2) if end == 0 else slice(14, 16)
                a[tuple(sl)] = True
        p = np.roll(a, 1, axis=2)
        r = ss.lesionwise(p, a, spacing=(0.5, 1, 3), threshold=0.2, metrics=("hd95",))
        assert r.summary["n_ref"] == 6
        assert all(np.isfinite(x["hd95"]) for x in r.lesions if x["kind"] == "tp")
    """,
}


@pytest.mark.parametrize("name", sorted(CODE))
def test_hostile_case_finishes(name):
    code = "import numpy as np, segscore as ss\n" + textwrap.dedent(CODE[name])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
