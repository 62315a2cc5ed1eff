"""The peers' own numbers on fixed examples, recorded (docs/conventions_research.md
§5 and §6, each computed by running the library): these run without any peer
installed and pin every convention to the value its library reports.

The same pair gives HD95 2.97 (pooled: MedPy, panoptica), 12.65 (per
direction, linear: MONAI, MetricsReloaded) or 11.79 (area-weighted nearest
rank: DeepMind): each convention must give its own.
"""

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close

REL = 1e-9      # float64 libraries
REL32 = 1e-6    # MONAI's float32 means (its HD, HD95 and NSD are matched exactly)


def example_a():
    ref = np.zeros((20, 22), bool); ref[3:15, 4:16] = True
    pred = np.zeros((20, 22), bool); pred[4:16, 4:14] = True; pred[18, 2] = True
    return pred, ref, (0.7, 1.3)


def example_b():
    zz, yy, xx = np.mgrid[:20, :21, :18]
    ref = (zz - 10) ** 2 + (yy - 10) ** 2 + ((xx - 8) * 1.5) ** 2 <= 36
    pred = np.zeros((20, 21, 18), bool); pred[6:15, 5:14, 4:12] = True; pred[0:3, 0:4, 0:2] = True
    return pred, ref, (1.0, 0.8, 2.5)


EXPECTED = {
    "A": {
        "medpy": {"hd": 3.82099463490856, "hd95": 2.6, "assd": 0.9634124628764604, "asd": 0.8590486496319161,
                  "dice": 0.8301886792452831, "iou": 0.7096774193548387},
        "deepmind": {"hd": 3.82099463490856, "hd95": 2.6, "asd_pair": (0.9352397345932071, 0.9657195943985941),
                     "overlap@1": (0.7930260085711407, 0.7491855433767036), "nsd@1": 0.7705683972614301,
                     "nsd@2": 0.8142084613358543},
        "monai": {"hd": 3.8209946155548096, "hd95": 2.5999999046325684, "asd": 0.85904860496521,
                  "assd": 0.9634124040603638, "nsd@1": 0.729411780834198, "nsd@2": 0.7764706015586853,
                  "dice": 0.8301886916160583, "iou": 0.7096773982048035},
        "monai-subvoxels": {"nsd@1": 0.7705683708190918, "nsd@2": 0.814208447933197},
        "panoptica": {"hd": 3.82099463490856, "hd95": 2.6, "assd": 0.9598546056067603, "nsd": 0.7311529933481153,
                      "nsd@1": 0.7311529933481153},
        "metricsreloaded": {"hd": 3.82099463490856, "hd95": 2.6, "assd": 0.9634124628764605,
                            "masd": 0.9598546056067603, "nsd@1": 0.7294117647058823, "nsd@2": 0.7764705882352941,
                            "biou": 0.1643835616438356},
    },
    "B": {
        "medpy": {"hd": 15.69108026873867, "hd95": 2.968164415931166, "assd": 1.364327810614823,
                  "asd": 1.8569887103726574, "dice": 0.7478122513922036},
        "deepmind": {"hd": 15.69108026873867, "hd95": 11.79152237838694,
                     "asd_pair": (1.6587132303074212, 0.7168679107543997),
                     "overlap@1": (0.704575896802767, 0.8122679787154736), "nsd@1": 0.7526484758612905,
                     "nsd@2": 0.8908482865763674},
        "monai": {"hd": 15.691080093383789, "hd95": 12.646224021911621, "asd": 1.856988549232483,
                  "assd": 1.3643277883529663, "nsd@1": 0.6855828166007996, "nsd@2": 0.8435583114624023},
        "monai-subvoxels": {"nsd@1": 0.7526485323905945, "nsd@2": 0.8908483386039734},
        "panoptica": {"hd": 15.69108026873867, "hd95": 2.968164415931166, "assd": 1.2708301216096864,
                      "nsd": 0.5459873324836828, "nsd@1": 0.7037326690611362},
        "metricsreloaded": {"hd": 15.69108026873867, "hd95": 12.646225170695189, "assd": 1.364327810614823,
                            "masd": 1.2708301216096864, "nsd@1": 0.6855828220858896, "nsd@2": 0.843558282208589,
                            "biou": 0.2209737827715356},
    },
}


def _value(sd, pred, ref, conv, key):
    if key == "hd":
        return sd.hd()
    if key == "hd95":
        return sd.hd95()
    if key == "asd":
        return sd.asd()
    if key == "asd_pair":
        return sd.asd(directed=False)
    if key == "assd":
        return sd.assd()
    if key == "masd":
        return sd.masd()
    if key == "nsd":
        return sd.nsd()
    if key.startswith("nsd@"):
        return sd.nsd(float(key[4:]))
    if key.startswith("overlap@"):
        return sd.surface_overlap(float(key[8:]))
    if key == "biou":
        return ss.boundary_iou(pred, ref, convention=conv)
    if key == "dice":
        return ss.dice(pred, ref, convention=conv)
    if key == "iou":
        return ss.iou(pred, ref, convention=conv)
    raise KeyError(key)


@pytest.mark.parametrize("example", ["A", "B"])
@pytest.mark.parametrize("conv", ["medpy", "deepmind", "monai", "monai-subvoxels", "panoptica", "metricsreloaded"])
def test_recorded_peer_values(example, conv):
    pred, ref, sp = example_a() if example == "A" else example_b()
    sd = ss.surface_distances(pred, ref, spacing=sp, convention=conv)
    expected = EXPECTED[example][conv]
    for key, want in expected.items():
        got = _value(sd, pred, ref, conv, key)
        if conv == "monai":  # float32: HD, HD95 and voxel NSD emulated bit for bit, means to float32 rounding
            rel = 0.0 if key in ("hd", "hd95", "nsd@1", "nsd@2") else REL32
        elif conv == "monai-subvoxels":  # MONAI's float32 surfel areas vs DeepMind's float64 ones
            rel = REL32
        else:
            rel = REL
        assert_close(got, want, rel, f"example {example}, {conv}, {key}")


def test_segscore_default_matches_deepmind_geometry():
    for pred, ref, sp in (example_a(), example_b()):
        a = ss.surface_distances(pred, ref, spacing=sp)
        b = ss.surface_distances(pred, ref, spacing=sp, convention="deepmind")
        for q in (50, 95, 100):
            assert a.hausdorff(q) == b.hausdorff(q)
        assert a.nsd(1.0) == b.nsd(1.0)
        assert a.asd(directed=False) == b.asd(directed=False)


# --------------------------------------------------------------------------- §6: MetricsReloaded's fixtures everywhere
def _mr_fixtures():
    p_ref = np.zeros([11, 11], bool); p_ref[3:8, 3:8] = 1
    p_pred = np.zeros([11, 11], bool); p_pred[3:8, 3:8] = 1; p_pred[5, 1:10] = 1; p_pred[1:10, 5] = 1
    ref210 = np.zeros([14, 14], bool); ref210[5:9, 5:9] = 1
    pred210_1 = np.zeros([14, 14], bool); pred210_1[6:8, 6:8] = 1
    pred210_2 = np.zeros([14, 14], bool); pred210_2[4:10, 4:10] = 1
    ref5c = np.zeros([14, 14], bool); ref5c[1, 1] = 1; ref5c[9:12, 9:12] = 1
    pred5c = np.zeros([14, 14], bool); pred5c[9:12, 9:12] = 1
    ref212 = np.zeros([22, 22], bool); ref212[2:21, 2:21] = 1
    pred212 = np.zeros([22, 22], bool); pred212[3:21, 2:21] = 1
    return {"fig10": (p_pred, p_ref), "s210_1": (pred210_1, ref210), "s210_2": (pred210_2, ref210),
            "fig5c": (pred5c, ref5c), "s212": (pred212, ref212)}


# fixture: (MedPy hd95, MONAI hd95, DeepMind hd95, MedPy/MONAI assd, panoptica assd,
#           MONAI nsd, MONAI subvoxel nsd, panoptica nsd(1), DeepMind surface dice(1)), 6 digits
TABLE6 = {
    "fig10": (2, 2, 2, 0.444444, 0.425, 0.888889, 0.884485, 0.9, 0.884485),
    "s210_1": (1.41421, 1.41421, 1.41421, 1.10355, 1.06904, 0.75, 0.869398, 0.833333, 0.869398),
    "s210_2": (1.41421, 1.41421, 1.41421, 1.05178, 1.04142, 0.875, 0.924889, 0.9, 0.924889),
    "fig5c": (2.26274, 6.78822, 11.3137, 0.665512, 0.628539, 0.941176, 0.884485, 0.944444, 0.884485),
    "s212": (1, 1, 1, 0.253521, 0.253373, 1, 1, 1, 1),
}


@pytest.mark.parametrize("name", list(TABLE6))
def test_same_fixture_every_library(name):
    pred, ref = _mr_fixtures()[name]
    got = (
        ss.hd95(pred, ref, convention="medpy"),
        ss.hd95(pred, ref, convention="monai"),
        ss.hd95(pred, ref, convention="deepmind"),
        ss.assd(pred, ref, convention="medpy"),
        ss.assd(pred, ref, convention="panoptica"),
        ss.nsd(pred, ref, 1.0, convention="monai"),
        ss.nsd(pred, ref, 1.0, convention="monai-subvoxels"),
        ss.nsd(pred, ref, 1.0, convention="panoptica"),
        ss.nsd(pred, ref, 1.0, convention="deepmind"),
    )
    assert_close(got, TABLE6[name], 0.0, name, abs_=6e-6 * max(1.0, max(TABLE6[name])))
    assert ss.assd(pred, ref, convention="monai") == pytest.approx(got[3], rel=REL32)
