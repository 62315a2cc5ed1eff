"""LesionResult: the rows, the match table, the summary and the options of one case."""

from __future__ import annotations

LESION_COLUMNS = ("region", "kind", "ref_id", "pred_ids", "ref_voxels", "ref_volume", "pred_voxels", "pred_volume",
                  "match_score")
MATCH_COLUMNS = ("region", "ref_id", "pred_id", "score")


class LesionResult:
    """Lesion-wise scores of one case, as returned by :func:`segscore.lesionwise`.

    Attributes
    ----------
    lesions : list of dict
        One row per reference lesion (kind ``"tp"``, ``"fn"`` or ``"excluded"``) and one per
        prediction component matched to no lesion (kind ``"fp"``): ``region``, ``kind``,
        ``ref_id`` (0 on fp rows), ``pred_ids`` (tuple), ``ref_voxels``, ``ref_volume``
        (mm^3), ``pred_voxels``, ``pred_volume``, ``match_score``, then one column per
        per-lesion metric (``dice``, ``iou``, ``hd95``, ...).
    matches : list of dict
        The explicit matching: ``region``, ``ref_id``, ``pred_id``, ``score`` (the pair's
        score under the convention's match rule).
    summary : dict
        Counts and rates (see :func:`segscore.lesionwise`); ``{region: dict}`` when the
        convention has regions.
    meta : dict
        ``convention``, ``mirrors`` (peer and version), ``options`` (every resolved option),
        ``spacing`` (as used), ``shape``, ``version``.
    metrics : tuple of str
        The per-lesion metric columns.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((12, 12), bool); ref[1:4, 1:4] = True; ref[7:10, 7:10] = True
    >>> pred = np.zeros_like(ref); pred[1:4, 1:5] = True; pred[0, 10] = True
    >>> res = ss.lesionwise(pred, ref)
    >>> res
    LesionResult(convention='segscore', lesions=3 (tp 1, fn 1, fp 1))
    >>> [(r["kind"], r["ref_id"], r["pred_ids"]) for r in res.lesions]
    [('tp', 1, (2,)), ('fn', 2, ()), ('fp', 0, (1,))]
    >>> res.matches
    [{'region': None, 'ref_id': 1, 'pred_id': 2, 'score': 0.75}]
    >>> df = res.to_pandas(); list(df.columns[:4])
    ['region', 'kind', 'ref_id', 'pred_ids']
    """

    def __init__(self, lesions, matches, summary, meta, metrics):
        self.lesions = lesions
        self.matches = matches
        self.summary = summary
        self.meta = meta
        self.metrics = tuple(metrics)

    @property
    def columns(self) -> list:
        return list(LESION_COLUMNS) + list(self.metrics)

    def to_pandas(self, table: str = "lesions"):
        """The lesion rows (``table="lesions"``) or the match table (``"matches"``) as a
        ``pandas.DataFrame`` (needs pandas).

        Parameters
        ----------
        table : {"lesions", "matches"}

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((6, 6), bool); ref[1:3, 1:3] = True
        >>> df = ss.lesionwise(ref, ref).to_pandas()
        >>> df[["kind", "ref_id", "dice"]].to_dict("records")
        [{'kind': 'tp', 'ref_id': 1, 'dice': 1.0}]
        >>> list(ss.lesionwise(ref, ref).to_pandas("matches").columns)
        ['region', 'ref_id', 'pred_id', 'score']
        """
        import pandas as pd

        if table == "lesions":
            return pd.DataFrame(self.lesions, columns=self.columns)
        if table == "matches":
            return pd.DataFrame(self.matches, columns=list(MATCH_COLUMNS))
        raise ValueError(f"table must be 'lesions' or 'matches', got {table!r}")

    def __repr__(self):
        kinds = [r["kind"] for r in self.lesions]
        parts = ", ".join(f"{k} {kinds.count(k)}" for k in ("tp", "fn", "fp", "excluded") if k in kinds)
        return (f"LesionResult(convention={self.meta['convention']!r}, lesions={len(self.lesions)}"
                + (f" ({parts})" if parts else "") + ")")
