"""The tables the notebooks print, built from :mod:`nmf_helpers.analysis.measures`.

A :class:`Table` is named rows of numbers under named columns; ``print`` shows
it as aligned text, :meth:`Table.to_markdown` as Markdown. Each function here
checks its arguments, computes with the measures' cores and returns one
table, so that a notebook cell only prints it:

* of templates and what they contain: :func:`component_table`;
* of fits: :func:`spectrogram_table`, :func:`divergence_table`,
  :func:`loss_table`, :func:`loudness_band_table`;
* of separations and detections: :func:`correlation_table`,
  :func:`score_table`, :func:`range_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .._losses import LOSS_DEFINITIONS, LOSSES, loss_terms
from .._numerics import EPS, TINY
from .._validation import (
    ParameterError,
    check_bins,
    check_choice,
    check_int,
    check_mapping,
    check_matrix,
    check_real,
    check_scores,
    check_time_range,
    check_waveforms,
)
from .measures import (
    band_total,
    best_assignment_unchecked,
    decibels_unchecked,
    log_spectral_correlation_unchecked,
    share_above_unchecked,
    spectral_centroid_unchecked,
    spectral_flatness_unchecked,
    waveform_correlations_unchecked,
)

__all__ = [
    "Table",
    "component_table",
    "correlation_table",
    "divergence_table",
    "loss_table",
    "loudness_band_table",
    "range_table",
    "score_table",
    "spectrogram_table",
]

_MEASURES = ("sdr", "sir", "sar")  # what nmf_helpers.evaluate measures, per source


@dataclass(frozen=True)
class Table:
    """Named rows of numbers under named columns, ready to print.

    ``str(table)`` lines the columns up as plain text (text to the left,
    numbers to the right), :meth:`to_markdown` gives a Markdown table,
    ``table[name]`` is one row as ``{column: value}`` (the row's name is its
    first value) and :meth:`column` the values under one heading. A value of
    ``None`` (nothing to show) prints as ``-``.

    Used in notebooks 1, 2, 3 and 5, built by :func:`component_table`,
    :func:`spectrogram_table`, :func:`divergence_table`,
    :func:`correlation_table`, :func:`loss_table`, :func:`range_table` and
    :func:`score_table`.

    Attributes
    ----------
    columns : tuple[str, ...]
        Column headings; the first column holds the rows' names.
    rows : tuple[tuple, ...]
        One value per column in each row.
    formats : tuple[str, ...]
        A format spec per column (``".2f"``, ``".0%"``, ``""`` for text).
    title : str
        Printed above the table when not empty.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> table = nh.Table(("fit", "corr."), (("fixed", 0.812), ("free", 0.5)), ("", ".2f"))
    >>> print(table)
    fit    corr.
    fixed   0.81
    free    0.50
    >>> table["free"]["corr."]
    0.5
    >>> table.column("corr.")
    [0.812, 0.5]
    """

    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    formats: tuple[str, ...]
    title: str = ""

    def __post_init__(self):
        widths = {len(self.columns), len(self.formats), *(len(row) for row in self.rows)}
        if len(widths) != 1:
            raise ParameterError(
                "Table: columns, formats and every row must have one length,"
                f" got {len(self.columns)} columns, {len(self.formats)} formats"
                f" and rows of {sorted({len(row) for row in self.rows})}"
            )

    def __getitem__(self, name) -> dict:
        for row in self.rows:
            if row[0] == name:
                return dict(zip(self.columns, row, strict=True))
        raise KeyError(f"no row named {name!r}; have {[row[0] for row in self.rows]}")

    def column(self, heading: str) -> list:
        """The values under ``heading``, one per row, in the rows' order."""
        if heading not in self.columns:
            raise KeyError(f"no column named {heading!r}; have {list(self.columns)}")
        index = self.columns.index(heading)
        return [row[index] for row in self.rows]

    def _cells(self) -> list[list[str]]:
        return [
            [
                "-" if value is None else format(value, spec)
                for value, spec in zip(row, self.formats, strict=True)
            ]
            for row in self.rows
        ]

    def __str__(self) -> str:
        lines = [list(self.columns), *self._cells()]
        widths = [max(len(text) for text in column) for column in zip(*lines, strict=True)]
        text = [
            "  ".join(
                cell.ljust(width) if i == 0 or not spec else cell.rjust(width)
                for i, (cell, width, spec) in enumerate(
                    zip(line, widths, self.formats, strict=True)
                )
            ).rstrip()
            for line in lines
        ]
        return "\n".join(([self.title] if self.title else []) + text)

    def to_markdown(self) -> str:
        """The table in Markdown (the title, if any, as a bold line above it)."""
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("| --- |" + " ---: |" * (len(self.columns) - 1))
        lines.extend("| " + " | ".join(cells) + " |" for cells in self._cells())
        return "\n".join(lines)


def _table(columns: dict, title: str = "") -> Table:
    """A :class:`Table` from ``{heading: (values, format)}``, one value per row."""
    values = [list(column) for column, _ in columns.values()]
    formats = tuple(spec for _, spec in columns.values())
    return Table(tuple(columns), tuple(zip(*values, strict=True)), formats, title)


def component_table(W, *, sr: int, shares=None, correlations=None, voice_on=None) -> Table:
    """One row per component: its template's features and what it contains.

    Columns: the component, its label (the stem :func:`~nmf_helpers.best_assignment` gives
    it by ``shares``; "-" if none), the :func:`~nmf_helpers.spectral_flatness` and
    :func:`~nmf_helpers.spectral_centroid` of ``W[:, k]``, then those given of: "voice on"
    (e.g. an :func:`~nmf_helpers.activation_ratio`), the share of each stem
    (:func:`~nmf_helpers.stem_shares`), the correlation with each stem
    (:func:`~nmf_helpers.waveform_correlations`), and whether the best assignment by
    correlation gives the component the same label.

    Used in notebook 2.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative]
    sr : int > 0
    shares, correlations : Mapping[str, np.ndarray [shape=(K,)]], optional
        Per stem, one value per component; the same stems in both.
    voice_on : np.ndarray [shape=(K,)], optional

    Returns
    -------
    Table

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> print(nh.component_table(W, sr=8000, shares={"a": [0.9, 0.2], "b": [0.1, 0.8]}))
    component  label  flatness  centroid (Hz)  % a  % b
    0          a         0.000              0  90%  10%
    1          b         1.000           2000  20%  80%
    """
    W = check_bins("component_table", W, "W")
    sr = check_int("component_table", "sr", sr, minimum=1)
    K = W.shape[1]
    share = check_scores("component_table", "shares", shares, K) if shares is not None else None
    correlation = None
    if correlations is not None:
        correlation = check_scores("component_table", "correlations", correlations, K)
        if share is not None and correlation[0] != share[0]:
            raise ParameterError(
                "component_table: shares and correlations must name the same stems"
            )
    if voice_on is not None:
        voice_on = check_scores("component_table", "voice_on", {"": voice_on}, K)[1][0]
    # share and correlation: (names, matrix) pairs, or None
    columns = {"component": (range(K), "d")}
    if share is not None:
        label = {k: name for name, k in best_assignment_unchecked(*share).items()}
        columns["label"] = ([label.get(k, "-") for k in range(K)], "")
    columns["flatness"] = (spectral_flatness_unchecked(W), ".3f")
    columns["centroid (Hz)"] = (spectral_centroid_unchecked(W, sr), ".0f")
    if voice_on is not None:
        columns["voice on"] = (voice_on, ".2f")
    if share is not None:
        for name, values in zip(*share, strict=True):
            columns[f"% {name}"] = (values, ".0%")
    if correlation is not None:
        for name, values in zip(*correlation, strict=True):
            columns[f"corr. {name}"] = (values, ".2f")
    if share is not None and correlation is not None:
        by_correlation = best_assignment_unchecked(*correlation)
        same = [k in label and by_correlation[label[k]] == k for k in range(K)]
        columns["same by corr."] = (same, "")
    return _table(columns)


def spectrogram_table(
    fits, references, *, track, sr: int, above_hz: float = 2000.0, floor_db: float = -80.0
) -> Table:
    """Each fit against each reference spectrogram, and how much of the highs it keeps.

    One row per fit: its :func:`~nmf_helpers.log_spectral_correlation` with each reference
    (0 dB being the loudest bin of ``track``), and its magnitude in the bins
    at or above ``above_hz`` as a fraction of the track's there.

    Used in notebook 3.

    Parameters
    ----------
    fits, references : Mapping[str, np.ndarray [shape=(M, N), non-negative]]
        E.g. ``{"W fixed": W @ H, ...}`` and ``{"sample stem": V_stem, ...}``.
    track : np.ndarray [shape=(M, N), non-negative]
        The spectrogram the fits approximate.
    sr : int > 0
    above_hz : float in [0, sr / 2]
    floor_db : float <= 0

    Returns
    -------
    Table
        Columns ``"fit"``, ``"corr. <reference>"`` for each reference, and
        ``"magnitude >= <above_hz> Hz"`` (1 means as much as the track).

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.array([[4.0, 1.0], [1.0, 2.0]])
    >>> table = nh.spectrogram_table({"half": V / 2}, {"V": V}, track=V, sr=8000, above_hz=4000)
    >>> print(table)
    fit   corr. V  magnitude >= 4000 Hz
    half     1.00                   50%
    """
    track = check_bins("spectrogram_table", track, "track")
    matrices = {}
    for name, value in (("fits", fits), ("references", references)):
        matrices[name] = {
            key: check_matrix("spectrogram_table", f"{name}[{key!r}]", A, shape=track.shape)
            for key, A in check_mapping("spectrogram_table", name, value).items()
        }
    sr = check_int("spectrogram_table", "sr", sr, minimum=1)
    above_hz = check_real("spectrogram_table", "above_hz", above_hz, minimum=0.0, maximum=sr / 2)
    if not track.any():
        raise ParameterError("spectrogram_table: track is all zeros; it sets the 0 dB level")
    floor_db = check_real("spectrogram_table", "floor_db", floor_db, minimum=-400.0, maximum=0.0)
    reference = float(track.max())
    columns = {"fit": (list(matrices["fits"]), "")}
    for key, B in matrices["references"].items():
        correlation = [
            log_spectral_correlation_unchecked(A, B, reference, floor_db)
            for A in matrices["fits"].values()
        ]
        columns[f"corr. {key}"] = (correlation, ".2f")
    highs = band_total(track, sr, above_hz)
    kept = [band_total(A, sr, above_hz) / max(highs, EPS) for A in matrices["fits"].values()]
    columns[f"magnitude >= {above_hz:g} Hz"] = (kept, ".0%")
    return _table(columns)


def divergence_table(fits, *, sr: int, above_hz: float = 4000.0) -> Table:
    """Where the KL divergence of each fit comes from: the share above a frequency.

    One row per fit ``(V, WH)``: the share of ``D(V || WH)`` from the bins at
    or above ``above_hz`` (:func:`~nmf_helpers.divergence_by_bin`,
    :func:`~nmf_helpers.share_above`), next to the share of the magnitude of
    ``V`` that lies there. A loss share
    larger than the magnitude share means the fit fails most up there.

    Used in notebook 6.

    Parameters
    ----------
    fits : Mapping[str, tuple[np.ndarray, np.ndarray]]
        ``{name: (V, W @ H)}``, each pair of one shape (M, N).
    sr : int > 0
    above_hz : float in [0, sr / 2]

    Returns
    -------
    Table
        Columns ``"fit"``, ``"share of the loss"`` and ``"share of the
        magnitude"``, titled with the frequency.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V, WH = np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [2.0, 1.0]])
    >>> print(nh.divergence_table({"toy": (V, WH)}, sr=8000))
    above 4000 Hz:
    fit  share of the loss  share of the magnitude
    toy               100%                     50%
    """
    pairs = {}
    for name, pair in check_mapping("divergence_table", "fits", fits).items():
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ParameterError(f"divergence_table: fits[{name!r}] must be a pair (V, WH)")
        V = check_bins("divergence_table", pair[0], f"fits[{name!r}][0] (V)")
        WH = check_matrix("divergence_table", f"fits[{name!r}][1] (WH)", pair[1], shape=V.shape)
        pairs[name] = (V, WH)
    sr = check_int("divergence_table", "sr", sr, minimum=1)
    above_hz = check_real("divergence_table", "above_hz", above_hz, minimum=0.0, maximum=sr / 2)
    loss = [
        share_above_unchecked(loss_terms("kl", V, WH).sum(axis=1)[:, None], sr, above_hz)
        for V, WH in pairs.values()
    ]
    magnitude = [share_above_unchecked(V, sr, above_hz) for V, _ in pairs.values()]
    columns = {
        "fit": (list(pairs), ""),
        "share of the loss": (loss, ".0%"),
        "share of the magnitude": (magnitude, ".0%"),
    }
    return _table(columns, title=f"above {above_hz:g} Hz:")


def correlation_table(estimates, references) -> Table:
    """Pearson correlation of each estimated waveform (a row) with each reference.

    Used in notebook 6.

    Parameters
    ----------
    estimates, references : Mapping[str, np.ndarray [shape=(n_samples,)]]
        All of one length.

    Returns
    -------
    Table
        Columns ``"estimate"`` and ``"corr. <reference>"`` for each reference.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> a, b = np.random.default_rng(0).standard_normal((2, 1000))
    >>> print(nh.correlation_table({"a + b": a + b}, {"a": a, "b": b}))
    estimate  corr. a  corr. b
    a + b        0.71     0.74
    """
    estimates = check_waveforms("correlation_table", "estimates", estimates)
    n = next(iter(estimates.values())).size
    references = check_waveforms("correlation_table", "references", references, n=n)
    correlations = waveform_correlations_unchecked(np.stack(list(estimates.values())), references)
    columns = {"estimate": (list(estimates), "")}
    columns |= {f"corr. {name}": (values, ".2f") for name, values in correlations.items()}
    return _table(columns)


def loss_table(losses, *, total=None, last: int = 10) -> Table:
    """First and final loss of each fit, how much it still fell, and how the fits compare.

    One row per loss curve (e.g. one :func:`nmf_helpers.nmf_kl` run per K): the
    first and the final loss; with ``total``, the final loss divided by it
    (with ``total = V.sum()`` the loss per unit of ``V``, which compares across
    songs); the drop in the last ``last`` iterations,
    ``1 - loss[-1] / loss[-1 - last]`` (above 0: still falling); and the final
    loss of the row above divided by this row's final loss (above 1: this fit
    ends lower).

    Used in notebook 1.

    Parameters
    ----------
    losses : Mapping[str, np.ndarray [shape=(n_iter,), non-negative]]
        ``{name: loss per iteration}``, each with more than ``last`` values.
    total : float > 0, optional
        What the final losses are divided by, normally ``V.sum()``.
    last : int >= 1
        How many of the last iterations the drop is measured over.

    Returns
    -------
    Table
        Columns ``"fit"``, ``"first loss"``, ``"final loss"``, ``"final / sum(V)"``
        (with ``total``), ``"drop in last <last> it."`` and ``"previous final /
        final"`` (``None`` in the first row).

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> curves = {"K = 1": [8.0, 5.0, 4.0], "K = 2": [8.0, 4.0, 2.0]}
    >>> print(nh.loss_table(curves, total=10.0, last=1))
    fit    first loss  final loss  final / sum(V)  drop in last 1 it.  previous final / final
    K = 1           8           4          0.4000              20.00%                       -
    K = 2           8           2          0.2000              50.00%                    2.00
    """
    curves = check_mapping("loss_table", "losses", losses)
    last = check_int("loss_table", "last", last, minimum=1)
    curves = _check_curves("loss_table", curves, last)
    if total is not None:
        total = check_real("loss_table", "total", total, minimum=0.0, maximum=np.inf)
        if total <= 0:
            raise ParameterError(f"loss_table: total must be > 0, got {total}")
    finals = [float(curve[-1]) for curve in curves.values()]
    columns = {
        "fit": (list(curves), ""),
        "first loss": ([float(curve[0]) for curve in curves.values()], ".4g"),
        "final loss": (finals, ".4g"),
    }
    if total is not None:
        columns["final / sum(V)"] = ([final / total for final in finals], ".4f")
    drops = [_late_drop(curve, last) for curve in curves.values()]
    columns[f"drop in last {last} it."] = (drops, ".2%")
    ratios = [a / b if b > 0 else float("inf") for a, b in pairwise(finals)]
    columns["previous final / final"] = ([None, *ratios], ".2f")
    return _table(columns)


def _check_curves(function: str, curves: Mapping, last: int) -> dict[str, np.ndarray]:
    """The loss curves of ``losses``, each 1-D, non-negative and longer than ``last``."""
    checked = {}
    for name, curve in curves.items():
        curve = np.asarray(curve)
        if curve.ndim != 1:
            raise ParameterError(
                f"{function}: losses[{name!r}] must be 1-D, one loss per iteration,"
                f" got shape {curve.shape}"
            )
        curve = check_matrix(function, f"losses[{name!r}]", curve[None, :])[0]
        if curve.size <= last:
            raise ParameterError(
                f"{function}: losses[{name!r}] has {curve.size} values; the drop in the"
                f" last {last} iterations needs at least {last + 1}"
            )
        checked[name] = curve
    return checked


def _late_drop(curve: np.ndarray, last: int) -> float:
    """``1 - curve[-1] / curve[-1 - last]``; 0 if the loss was already 0."""
    earlier = float(curve[-1 - last])
    return 1.0 - float(curve[-1]) / earlier if earlier > 0 else 0.0


def loudness_band_table(
    V,
    WH,
    *,
    loss: str = "euclidean",
    edges_db: Sequence[float] = (-30.0, -50.0),
    factor: float = 2.0,
    floor_db: float = -80.0,
) -> Table:
    """Where a fit's error lies, by how loud the bins of ``V`` are, and why.

    The bins of ``V`` are put in bands by their level in dB (0 dB = the
    loudest bin of ``V``; ``edges_db`` are the borders, loudest first). For
    each band, one row:

    * ``"bins"``: the band's share of all bins;
    * ``"median level (dB)"``: the median level ``v`` of its bins;
    * ``"mean |error| (dB)"``: the mean of ``|dB(V) - dB(WH)|`` over its bins,
      both floored at ``floor_db`` (the error as the spectrogram plots and
      our ears see it);
    * ``"share of the error"``: its share of the ``loss`` the NMF minimises
      (the sum of :func:`~nmf_helpers.elementwise_loss` over its bins, over the sum over
      all bins);
    * ``"cost of WH = <factor> V"``: what one bin at the median level costs
      if the fit is off by ``factor`` there (``WH = factor * v``), computed
      with :func:`~nmf_helpers.elementwise_loss`: ``v^2 (r - 1)^2`` for the squared error,
      ``v (r - 1 - log r)`` for KL;
    * ``"level ratio"`` and ``"cost ratio"``: the median level and that cost
      divided by the first (loudest) band's. For KL the two columns are equal (the cost of a
      factor is linear in the level), for the squared error the cost column
      is the square of the level column. (A loss under which a factor costs
      the same at every level, ``1/r - 1 + log r``, is the Itakura–Saito
      divergence ``D_IS(V || WH)``, which the package does not use.)

    An empty band shows ``-`` where it has no value.

    Used in notebook 0.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative], not all zeros
        The spectrogram; its largest value is 0 dB.
    WH : np.ndarray [shape=(M, N), non-negative]
        The fit ``W @ H``.
    loss : {"euclidean", "kl"}
        The loss whose shares and costs are shown.
    edges_db : sequence of float, strictly decreasing, each in (floor_db, 0)
        Band borders; a bin at ``edges_db[i]`` belongs to the quieter band.
    factor : float > 0, not 1
        The factor ``r`` of the cost columns.
    floor_db : float < 0
        The lowest level of the dB error column.

    Returns
    -------
    Table
        One row per band, named ``"> -30 dB"``, ``"-50 to -30 dB"``,
        ``"<= -50 dB"`` for the default edges, titled with the loss.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.array([[100.0, 1.0]])  # one loud bin, one 40 dB down
    >>> table = nh.loudness_band_table(V, 2 * V, loss="kl", edges_db=[-20])
    >>> [round(ratio, 9) for ratio in table.column("cost ratio")]  # 40 dB: 100 times less
    [1.0, 0.01]
    >>> print(nh.loudness_band_table(V, 2 * V, loss="euclidean", edges_db=[-20]))
    squared error of the fit, by loudness band (0 dB = the loudest bin of V):
    band        bins  median level (dB)  mean |error| (dB)  share of the error  cost of WH = 2 V  level ratio  cost ratio
    > -20 dB   50.0%                0.0                6.0              100.0%             1e+04            1           1
    <= -20 dB  50.0%              -40.0                6.0                0.0%                 1         0.01      0.0001
    """  # noqa: E501
    function = "loudness_band_table"
    V = check_matrix(function, "V", V)
    WH = check_matrix(function, "WH", WH, shape=V.shape)
    loss = check_choice(function, "loss", loss, LOSSES)
    floor_db = check_real(function, "floor_db", floor_db, minimum=-400.0, maximum=0.0)
    if floor_db >= 0:
        raise ParameterError(f"{function}: floor_db must be < 0, got {floor_db}")
    edges = _check_edges(function, edges_db, floor_db)
    factor = check_real(function, "factor", factor, minimum=0.0, maximum=np.inf)
    if factor <= 0 or factor == 1:
        raise ParameterError(
            f"{function}: factor must be > 0 and not 1 (a factor of 1 costs nothing), got {factor}"
        )
    if not V.any():
        raise ParameterError(f"{function}: V is all zeros; its loudest bin sets the 0 dB level")
    reference = float(V.max())
    V_db = decibels_unchecked(V, reference, floor_db)
    error_db = np.abs(V_db - decibels_unchecked(WH, reference, floor_db))
    errors = loss_terms(loss, V, WH)
    total = max(float(errors.sum()), TINY)
    # Each bin goes to the band whose upper border is the first one above it.
    band_of = np.digitize(V_db, np.array(edges[::-1]), right=True)  # 0 = quietest band
    band_of = len(edges) - band_of  # 0 = loudest band
    shares, levels, mean_errors, error_shares, costs = [], [], [], [], []
    for band in range(len(edges) + 1):
        inside = band_of == band
        shares.append(float(inside.mean()))
        if not inside.any():
            levels.append(None)
            mean_errors.append(None)
            error_shares.append(0.0)
            costs.append(None)
            continue
        level = float(np.median(V[inside]))
        levels.append(level)
        mean_errors.append(float(error_db[inside].mean(dtype=np.float64)))
        error_shares.append(float(errors[inside].sum()) / total)
        one_bin = np.array([[level]])
        costs.append(float(loss_terms(loss, one_bin, factor * one_bin)[0, 0]))
    first = next(i for i, level in enumerate(levels) if level is not None)

    def relative(values):
        base = values[first]
        return [None if v is None or base <= 0 else v / base for v in values]

    level_db = [
        None if level is None else float(decibels_unchecked(np.array(level), reference, floor_db))
        for level in levels
    ]
    columns = {
        "band": (_band_names(edges), ""),
        "bins": (shares, ".1%"),
        "median level (dB)": (level_db, ".1f"),
        "mean |error| (dB)": (mean_errors, ".1f"),
        "share of the error": (error_shares, ".1%"),
        f"cost of WH = {factor:g} V": (costs, ".3g"),
        "level ratio": (relative(levels), ".3g"),
        "cost ratio": (relative(costs), ".3g"),
    }
    title = f"{LOSS_DEFINITIONS[loss].title} of the fit, by loudness band"
    return _table(columns, title=f"{title} (0 dB = the loudest bin of V):")


def _check_edges(function: str, edges_db, floor_db: float) -> list[float]:
    """Band borders in dB: strictly decreasing, between ``floor_db`` and 0 (exclusive)."""
    try:
        edges = [
            check_real(function, f"edges_db[{i}]", edge, minimum=floor_db, maximum=0.0)
            for i, edge in enumerate(edges_db)
        ]
    except TypeError:
        raise ParameterError(
            f"{function}: edges_db must be a sequence of levels in dB, got {edges_db!r}"
        ) from None
    if not edges or any(b >= a for a, b in pairwise([0.0, *edges, floor_db])):
        raise ParameterError(
            f"{function}: edges_db must be strictly decreasing levels between {floor_db:g}"
            f" and 0 dB (exclusive), loudest first, got {list(edges_db)!r}"
        )
    return edges


def _band_names(edges: list[float]) -> list[str]:
    names = [f"> {edges[0]:g} dB"]
    names += [f"{low:g} to {high:g} dB" for high, low in pairwise(edges)]
    return [*names, f"<= {edges[-1]:g} dB"]


def range_table(found, true) -> Table:
    """Detected time ranges next to the true ones, and how far apart they are.

    Both lists are sorted by start and paired in that order: the first
    detected range with the first true one, and so on. The error of a pair is
    ``max(|start - true start|, |end - true end|)`` in seconds. If one list is
    longer, its extra ranges have no partner: those cells are ``None``, printed
    as ``-``.

    Used in notebook 6, with the ranges of :func:`nmf_helpers.detect_sample`.

    Parameters
    ----------
    found, true : sequence of (float, float)
        ``(start, end)`` in seconds with ``0 <= start < end``; either may be
        empty.

    Returns
    -------
    Table
        One row per pair, named 1, 2, ...; columns ``"range"``, ``"detected
        start (s)"``, ``"detected end (s)"``, ``"true start (s)"``, ``"true end
        (s)"`` and ``"error (s)"``.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> print(nh.range_table([(10.1, 18.0), (1.0, 9.02)], [(1.0, 9.0)]))
    range  detected start (s)  detected end (s)  true start (s)  true end (s)  error (s)
    1                    1.00              9.02            1.00          9.00      0.020
    2                   10.10             18.00               -             -          -
    """
    found = _check_ranges("range_table", "found", found)
    true = _check_ranges("range_table", "true", true)
    n = max(len(found), len(true))
    found = found + [(None, None)] * (n - len(found))
    true = true + [(None, None)] * (n - len(true))
    errors = [
        None if a is None or c is None else max(abs(a - c), abs(b - d))
        for (a, b), (c, d) in zip(found, true, strict=True)
    ]
    columns = {
        "range": (range(1, n + 1), "d"),
        "detected start (s)": ([start for start, _ in found], ".2f"),
        "detected end (s)": ([end for _, end in found], ".2f"),
        "true start (s)": ([start for start, _ in true], ".2f"),
        "true end (s)": ([end for _, end in true], ".2f"),
        "error (s)": (errors, ".3f"),
    }
    return _table(columns)


def _check_ranges(function: str, name: str, ranges) -> list[tuple[float, float]]:
    """``(start, end)`` pairs in seconds, sorted by start."""
    try:
        items = list(ranges)
    except TypeError:
        raise ParameterError(
            f"{function}: {name} must be a sequence of (start, end) pairs in seconds,"
            f" got {ranges!r}"
        ) from None
    pairs = [
        check_time_range(function, f"{name}[{i}]", item, np.inf) for i, item in enumerate(items)
    ]
    return sorted(pairs)


def score_table(scores, *, measure: str = "sdr", floor: str | None = None) -> Table:
    """One separation measure of several methods: a row per method, a column per source.

    ``scores[method]`` holds what :func:`nmf_helpers.evaluate` measured for
    that method, as rows (``nh.evaluate(...).rows``: one ``{"source": name,
    "sdr": ..., "sir": ..., "sar": ...}`` per source, in dB). The table shows
    ``measure`` for each source. With ``floor``, the name of the method that
    does nothing (the mixture used as every estimate), one more column per
    source gives each method's gain over it in dB.

    Used in notebook 5.

    Parameters
    ----------
    scores : Mapping[str, Sequence[Mapping]]
        ``{method: rows}``, every method with the same sources; the values
        must be finite.
    measure : {"sdr", "sir", "sar"}
    floor : str, optional
        One of the methods of ``scores``.

    Returns
    -------
    Table
        Titled with the measure; columns ``"method"``, one per source (in the
        order of the first method's rows) and, with ``floor``,
        ``"<source> over floor"``.

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> scores = {
    ...     "mixture": [{"source": "voice", "sdr": -2.0, "sir": -2.0, "sar": 250.0}],
    ...     "nmf": [{"source": "voice", "sdr": 7.5, "sir": 10.0, "sar": 12.0}],
    ... }
    >>> print(nh.score_table(scores, floor="mixture"))
    SDR (dB):
    method   voice  voice over floor
    mixture  -2.00             +0.00
    nmf       7.50             +9.50
    """
    measure = check_choice("score_table", "measure", measure, _MEASURES)
    if not isinstance(scores, Mapping) or not scores:
        raise ParameterError("score_table: scores must be a non-empty {method: rows} mapping")
    values = {
        method: _check_score_rows("score_table", method, rows, measure)
        for method, rows in scores.items()
    }
    first = next(iter(values))
    for method, row in values.items():
        if set(row) != set(values[first]):
            raise ParameterError(
                f"score_table: scores[{method!r}] has the sources {sorted(row)},"
                f" but scores[{first!r}] has {sorted(values[first])}"
            )
    if floor is not None:
        floor = check_choice("score_table", "floor", floor, list(values))
    columns = {"method": (list(values), "")}
    for source in values[first]:
        columns[source] = ([row[source] for row in values.values()], ".2f")
    if floor is not None:
        for source in values[first]:
            gains = [row[source] - values[floor][source] for row in values.values()]
            columns[f"{source} over floor"] = (gains, "+.2f")
    return _table(columns, title=f"{measure.upper()} (dB):")


def _check_score_rows(function: str, method: str, rows, measure: str) -> dict[str, float]:
    """``{source: value of measure}`` from the rows of one method."""
    where = f"scores[{method!r}]"
    if isinstance(rows, str | Mapping) or not isinstance(rows, Sequence) or not rows:
        raise ParameterError(
            f"{function}: {where} must be a non-empty list of rows"
            f" {{'source': name, {measure!r}: dB, ...}} (nh.evaluate(...).rows),"
            f" got {rows!r}"
        )
    values = {}
    for row in rows:
        if not isinstance(row, Mapping) or "source" not in row or measure not in row:
            raise ParameterError(
                f"{function}: every row of {where} must map 'source' and {measure!r}, got {row!r}"
            )
        source = row["source"]
        if source in values:
            raise ParameterError(f"{function}: {where} has two rows for {source!r}")
        values[source] = check_real(
            function,
            f"the {measure} of {source!r} in {where}",
            row[measure],
            minimum=-np.inf,
            maximum=np.inf,
        )
    return values
