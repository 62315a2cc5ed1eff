"""Probabilistic and multi-rater scoring: CRPS (Gaussian, ensemble, volume), multi-rater
consensus, generalized energy distance and soft Dice; raters holds their input checks."""
