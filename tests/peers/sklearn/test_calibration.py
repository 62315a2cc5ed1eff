"""Brier score and log loss against scikit-learn (and torch's NLL)."""

import numpy as np
import pytest
import segscore as ss
from support.calibration_cases import F64, SEEDS, _rand_binary, _rand_multi
from support.helpers import need_peer


# ---------------------------------------------------------------------------
# scikit-learn: Brier score and log loss


@pytest.mark.peers
@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")
@pytest.mark.parametrize("seed", SEEDS)
def test_sklearn_brier(seed):
    need_peer("sklearn")
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(500 + seed)
    p, t = _rand_binary(rng, (int(rng.integers(1, 40)), int(rng.integers(1, 40))), rounded=seed % 3 == 0)
    t.flat[0] = 1 - t.flat[-1] if t.size > 1 else t.flat[0]
    labels = [0, 1]
    want = brier_score_loss(t.ravel(), p.ravel(), labels=labels)
    assert ss.brier(p, t) == pytest.approx(want, **F64)
    assert ss.brier(np.stack([1 - p, p]), t) == pytest.approx(want, **F64)  # C = 2: half the sum
    assert ss.brier(p, t, convention="metricsreloaded") == pytest.approx(2 * want, **F64)
    c = int(rng.integers(3, 6))
    pm, tm = _rand_multi(rng, c, (30, 7))
    want = brier_score_loss(tm.ravel(), np.moveaxis(pm, 0, -1).reshape(-1, c), labels=list(range(c)))
    assert ss.brier(pm, tm) == pytest.approx(want, **F64)
    assert ss.brier(pm, tm, convention="metricsreloaded") == pytest.approx(want, **F64)
    assert ss.brier(pm.astype(np.float32), tm) == pytest.approx(
        brier_score_loss(tm.ravel(), np.moveaxis(pm.astype(np.float32), 0, -1).reshape(-1, c).astype(np.float64),
                         labels=list(range(c))), **F64)


@pytest.mark.peers
@pytest.mark.parametrize("seed", SEEDS[:6])
def test_nll_vs_sklearn_and_torch(seed):
    need_peer("sklearn")
    torch = need_peer("torch")
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(600 + seed)
    c = 4
    logits = rng.normal(0, 2, size=(c, 20, 15))
    pm = np.exp(logits - logits.max(0)) / np.exp(logits - logits.max(0)).sum(0)
    tm = rng.integers(0, c, size=(20, 15))
    want = log_loss(tm.ravel(), np.moveaxis(pm, 0, -1).reshape(-1, c), labels=list(range(c)))
    assert ss.nll(pm, tm) == pytest.approx(want, rel=1e-9)
    ce = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits)[None], torch.from_numpy(tm)[None]))
    assert ss.nll(logits, tm, logits=True) == pytest.approx(ce, rel=1e-9)
    assert ss.brier(logits, tm, logits=True) == pytest.approx(ss.brier(pm, tm), rel=1e-9)
    x = rng.normal(0, 4, size=(30, 10))
    y = (rng.random((30, 10)) < 0.5).astype(np.int64)
    bce = float(torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(y).double()))
    assert ss.nll(x, y, logits=True) == pytest.approx(bce, rel=1e-9)
