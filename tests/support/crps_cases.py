"""Comparison helpers shared by the CRPS tests (unit and peers)."""

import warnings
import numpy as np
from support.helpers import need_peer

RTOL = 1e-9


def _close(a, b, rtol=RTOL, atol=0.0):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    m = ~np.isnan(a)
    np.testing.assert_allclose(a[m], b[m], rtol=rtol, atol=atol)


def _ps():
    ps = need_peer("properscoring")
    return ps


def _ps_has_numba():
    import properscoring._crps as c

    return c._crps_ensemble_core is not c._crps_ensemble_vectorized


# ---------------------------------------------------------------------------------------
# Ensemble


def brute_ensemble(y, x, w=None):
    """mean|X - y| - 1/2 mean|X - X'| with normalised weights (members without NaN)."""
    x = np.asarray(x, float)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    keep = ~np.isnan(x)
    x, w = x[keep], w[keep]
    w = w / w.sum()
    return float(np.sum(w * np.abs(x - y)) - 0.5 * np.sum(w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])))


# ---------------------------------------------------------------------------------------
# Volume CRPS


def curvas_quad(v, mu, sigma, breakpoints=True):
    """The challenge's published formula, evaluated independently with scipy quadrature:
    with every kink of the tabulated CDF as a breakpoint (accurate), or as the challenge
    called quad (no breakpoints, default tolerances)."""
    from scipy.integrate import quad
    from scipy.interpolate import interp1d
    from scipy.stats import norm

    dist = norm(loc=mu, scale=sigma)
    nodes = np.linspace(dist.ppf(0.01), dist.ppf(0.99), 100)
    cdf = interp1d(nodes, dist.cdf(nodes), bounds_error=False, fill_value=(0, 1))

    def integrand(t):
        return (cdf(t) - 0.5 * (np.sign(t - v) + 1.0)) ** 2

    lo, hi = mu - 3 * sigma, mu + 3 * sigma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not breakpoints:
            return quad(integrand, lo, hi)[0]
        pts = [p for p in list(nodes) + [v] if lo < p < hi]
        return quad(integrand, lo, hi, points=pts, limit=1000)[0]


def _three_raters(shape=(8, 12, 10), seed=0):
    rng = np.random.default_rng(seed)
    raters = []
    for _ in range(3):
        r = np.zeros(shape, np.int16)
        r[rng.random(shape) < 0.25] = 1
        r[rng.random(shape) < 0.15] = 3
        raters.append(r)
    prob = rng.random((2,) + shape).astype(np.float32) * 0.5
    return prob, raters
