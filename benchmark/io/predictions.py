"""Prediction files: writing DeepLabCut-style tables, reading DeepLabCut and SLEAP predictions,
and matching predicted frames and keypoints to ground truth.

kpbench writes single-animal predictions as DeepLabCut 3 does: columns
``scorer/bodyparts/coords`` with ``x, y, likelihood``, CSV or h5 (key ``df_with_missing``).
Rows are indexed as DeepLabCut indexes them: video frames by their integer number (as
``analyze_videos`` writes them), labelled frames ``labeled-data/<video>/<image>`` by the
three-part row index of DeepLabCut's label and ``machinelabels`` files, any other frame by its
id. pandas reads them with ``read_csv(header=[0, 1, 2], index_col=0)`` (``index_col=[0, 1, 2]``
for labelled frames); ``movement.io.load_poses.from_dlc_file`` reads the h5, and the CSV of
video frames. The old 4-level layout (an ``individuals`` level, as DeepLabCut's
``analyze_images`` writes) is still read, and still written when ``individual`` is given.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.dataset import Dataset
from benchmark.errors import InputError
from benchmark.io.dlc import index_paths, read_h5_table
from benchmark.paths import atomic_path

H5_KEY = "df_with_missing"
_LEVELS_3 = ["scorer", "bodyparts", "coords"]
_LEVELS_4 = ["scorer", "individuals", "bodyparts", "coords"]
_H5_SUFFIXES = (".h5", ".hdf5")
#: Suffixes ``write_dlc_predictions`` writes (CSV, or HDF5 by pandas).
SUFFIXES = (".csv", *_H5_SUFFIXES)
_FRAME_NUMBER = re.compile(r"0|[1-9][0-9]*")


@dataclass
class Predictions:
    """Predicted keypoints of a set of frames.

    Attributes:
        frame_ids: One id per row as written in the file (image path or frame number).
        keypoints: Keypoint names in file order.
        values: ``(n_frames, n_keypoints, 3)`` float64 x, y, score; NaN x, y = not detected.
    """

    frame_ids: tuple[str, ...]
    keypoints: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        self.frame_ids = tuple(str(f) for f in self.frame_ids)
        self.keypoints = tuple(str(k) for k in self.keypoints)
        self.values = np.asarray(self.values, dtype=np.float64)
        expected = (len(self.frame_ids), len(self.keypoints), 3)
        if self.values.shape != expected:
            raise ValueError(f"values have shape {self.values.shape}, expected {expected}")


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------


def _row_index(frame_ids: Sequence[str]) -> pd.Index:
    """DeepLabCut's row index for these frames: frame numbers as integers, labelled frames
    ``labeled-data/<video>/<image>`` as a 3-level index, anything else as given."""
    ids = [str(f) for f in frame_ids]
    if ids and all(_FRAME_NUMBER.fullmatch(f) for f in ids):
        return pd.Index([int(f) for f in ids], dtype="int64")
    parts = [tuple(f.split("/")) for f in ids]
    if ids and all(len(p) == 3 and p[0] == "labeled-data" and all(p) for p in parts):
        return pd.MultiIndex.from_tuples(parts)
    return pd.Index(ids, dtype=object)


def _checked_output(path: str | Path) -> Path:
    """``path``, if it names a file kind that ``write_dlc_predictions`` writes.

    Raises:
        InputError: The suffix is not ``.csv``, ``.h5`` or ``.hdf5``, or the path is a folder.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(
            path, "predictions are written as .csv or .h5; choose a name ending in one of them"
        )
    if path.is_dir():
        raise InputError(path, "is a folder; give a file name for the predictions")
    return path


def prediction_frame(
    frame_ids: Sequence[str],
    keypoints: Sequence[str],
    values: np.ndarray,
    scorer: str = "kpbench",
    individual: str | None = None,
) -> pd.DataFrame:
    """Predictions as a DeepLabCut DataFrame (x, y, likelihood per keypoint, rows = frames).

    Without ``individual``: DeepLabCut 3's single-animal layout (3 header levels, rows indexed
    as DeepLabCut indexes them). With it: the old 4-level layout, rows indexed by frame id.
    """
    values = np.asarray(values, dtype=np.float64)
    n, k = len(frame_ids), len(keypoints)
    if values.shape != (n, k, 3):
        raise ValueError(f"values have shape {values.shape}, expected ({n}, {k}, 3)")
    coords = ["x", "y", "likelihood"]
    if individual is None:
        columns = pd.MultiIndex.from_product([[scorer], list(keypoints), coords], names=_LEVELS_3)
        index = _row_index(frame_ids)
    else:
        columns = pd.MultiIndex.from_product(
            [[scorer], [individual], list(keypoints), coords], names=_LEVELS_4
        )
        index = pd.Index([str(f) for f in frame_ids], dtype=object)
    return pd.DataFrame(values.reshape(n, k * 3), index=index, columns=columns)


def write_dlc_predictions(
    path: str | Path,
    frame_ids: Sequence[str],
    keypoints: Sequence[str],
    values: np.ndarray,
    scorer: str = "kpbench",
    individual: str | None = None,
) -> None:
    """Write predictions as a DeepLabCut table, ``.csv`` or ``.h5`` by suffix, atomically.

    Args:
        path: Output file: ``.csv``, or ``.h5``/``.hdf5`` (HDF5, key ``df_with_missing``).
        frame_ids: One per frame: a frame number (``"0"``), a labelled image
            (``labeled-data/<video>/<image>``) or any other id.
        keypoints: Keypoint names (column order).
        values: ``(n_frames, n_keypoints, 3)`` x, y, likelihood; NaN x, y = not detected.
        scorer: The scorer name in the header.
        individual: None (default) for DeepLabCut's single-animal 3-level header; a name
            writes the old 4-level header with this one individual.

    Raises:
        InputError: ``path`` has another suffix (nothing is written).
        ValueError: ``values`` do not fit the frames and keypoints.
    """
    path = _checked_output(path)
    df = prediction_frame(frame_ids, keypoints, values, scorer, individual)
    with atomic_path(path) as tmp:
        if path.suffix.lower() in _H5_SUFFIXES:
            # As DeepLabCut: "table" for video frames; labels and machinelabels, indexed by
            # a 3-level row index (which "table" cannot store with 3-level columns), "fixed".
            fmt = "fixed" if isinstance(df.index, pd.MultiIndex) else "table"
            df.to_hdf(tmp, key=H5_KEY, mode="w", format=fmt)
        else:
            # "NaN" rather than empty cells: pandas reads a first row of only empty cells
            # as index names and drops it.
            df.to_csv(tmp, na_rep="NaN")


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def _predictions_from_frame(df: pd.DataFrame, path: Path) -> Predictions:
    """Turn a DeepLabCut DataFrame (3- or 4-level columns) into Predictions."""
    if df.columns.nlevels == 4:
        individuals = pd.unique(df.columns.get_level_values(1))
        if len(individuals) > 1:
            raise InputError(
                path,
                f"predictions for {len(individuals)} individuals "
                f"({', '.join(map(str, individuals[:5]))}); only single-animal is supported",
            )
        df = df.droplevel(1, axis=1)
    elif df.columns.nlevels != 3:
        raise InputError(
            path,
            f"expected DeepLabCut columns scorer/bodyparts/coords, found "
            f"{df.columns.nlevels} header level(s)",
        )
    scorers = pd.unique(df.columns.get_level_values(0))
    if len(scorers) != 1:
        raise InputError(path, f"expected one scorer in the header, found {list(scorers)}")
    coords = set(df.columns.get_level_values(2))
    if not {"x", "y"} <= coords:
        raise InputError(path, f"header has coords {sorted(coords)}, expected x, y, likelihood")
    keypoints = [str(k) for k in pd.unique(df.columns.get_level_values(1))]
    values = np.full((len(df), len(keypoints), 3), np.nan)
    for j, kp in enumerate(keypoints):
        for c, coord in enumerate(("x", "y", "likelihood")):
            if coord not in coords:
                continue
            column = df.loc[:, (scorers[0], kp, coord)]
            if isinstance(column, pd.DataFrame):
                raise InputError(path, f"keypoint {kp!r} has more than one {coord!r} column")
            numbers = pd.to_numeric(column, errors="coerce")
            bad = numbers.isna() & column.notna()
            if bad.any():
                row = bad.to_numpy().nonzero()[0][0]
                raise InputError(
                    path,
                    f"row {df.index[row]!r}, {kp} {coord} is not a number: {column.iat[row]!r}",
                )
            values[:, j, c] = numbers.to_numpy(dtype=np.float64)
    frame_ids = index_paths(df.index, path)
    dupes = pd.Index(frame_ids)[pd.Index(frame_ids).duplicated()]
    if len(dupes):
        raise InputError(path, f"frame {dupes[0]!r} appears more than once")
    return Predictions(tuple(frame_ids), tuple(keypoints), values)


def _read_dlc_csv(path: Path) -> pd.DataFrame:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            head = [row for _, row in zip(range(4), csv.reader(fh), strict=False)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read CSV ({exc})") from None
    first = [row[0].strip().lower() if row else "" for row in head]
    if first[:4] == _LEVELS_4:
        levels = _LEVELS_4
    elif first[:3] == _LEVELS_3:
        levels = _LEVELS_3
    else:
        raise InputError(
            path,
            f"expected DeepLabCut header rows scorer, (individuals,) bodyparts, coords; "
            f"found {first[:4]}",
        )
    # Row index columns: the cells before the first coordinate name (3 in DLC >= 2.2 labels).
    coords_row = head[len(levels) - 1]
    n_index = next((i for i, c in enumerate(coords_row) if c.strip() in ("x", "y")), 1)
    try:
        # No index_col: pandas would take a first row of empty cells for index names.
        df = pd.read_csv(path, header=list(range(len(levels))), encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(path, f"cannot parse the DeepLabCut table ({exc})") from None
    index_cols = list(df.columns[:n_index])
    df = df.set_index(index_cols if n_index > 1 else index_cols[0])
    df.index.names = [None] * n_index
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=levels)
    return df


def _instance_score(instance: object) -> float:
    score = getattr(instance, "score", None)
    return -np.inf if score is None or np.isnan(score) else float(score)


def _read_slp(path: Path) -> Predictions:
    """Predicted instances of a SLEAP file; frame ids as ``read_slp`` gives them."""
    import sleap_io as sio

    from benchmark.io.sleap import frame_id_namer

    try:
        labels = sio.load_slp(str(path), open_videos=False)
    except Exception as exc:  # h5py / sleap-io raise many types for bad files
        raise InputError(
            path, f"not a readable SLEAP file ({exc.__class__.__name__}: {exc})"
        ) from None
    if len(labels.skeletons) != 1:
        raise InputError(path, f"{len(labels.skeletons)} skeletons in the file; expected 1")
    keypoints = tuple(labels.skeletons[0].node_names)
    frame_id = frame_id_namer(labels, path.parent)
    frame_ids, rows = [], []
    for lf in labels.labeled_frames:
        values = np.full((len(keypoints), 3), np.nan)
        if lf.predicted_instances:
            # Single-animal: keep the most confident instance.
            best = max(lf.predicted_instances, key=_instance_score)
            values = np.asarray(best.numpy(scores=True), dtype=np.float64)
            values[~np.isfinite(values[:, :2]).all(axis=1), :2] = np.nan
        frame_ids.append(frame_id(lf.video, lf.frame_idx))
        rows.append(values)
    if not any(lf.predicted_instances for lf in labels.labeled_frames):
        raise InputError(path, "the SLEAP file holds no predicted instances")
    dupes = sorted({f for f in frame_ids if frame_ids.count(f) > 1})
    if dupes:
        raise InputError(path, f"frame {dupes[0]!r} appears more than once")
    return Predictions(tuple(frame_ids), keypoints, np.stack(rows))


def read_predictions(path: str | Path) -> Predictions:
    """Read predictions: DeepLabCut CSV/h5 (3-level, or 4-level with one individual) or ``.slp``.

    Raises:
        InputError: The file is missing, not a prediction table, or has several individuals.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "prediction file not found")
    name = path.name.lower()
    if name.endswith(".slp"):
        return _read_slp(path)
    if path.suffix.lower() in _H5_SUFFIXES:
        df = read_h5_table(path)
    elif path.suffix.lower() == ".csv":
        df = _read_dlc_csv(path)
    else:
        raise InputError(path, "unknown prediction format (expected .csv, .h5 or .slp)")
    if len(df) == 0:
        raise InputError(path, "the prediction file has no rows")
    return _predictions_from_frame(df, path)


# ----------------------------------------------------------------------------------------------
# Matching to ground truth
# ----------------------------------------------------------------------------------------------


def _parts(frame_id: str) -> tuple[str, ...]:
    return tuple(p for p in frame_id.replace("\\", "/").split("/") if p not in ("", "."))


def _match_frames(gt: Dataset, pred: Predictions, pred_path: Path) -> np.ndarray:
    """Row of ``pred`` for each GT frame: exact id, exact image path, else longest unique
    trailing path components (``m4s1/img0000.png``)."""
    exact = {f: i for i, f in enumerate(pred.frame_ids)}
    by_suffix: dict[tuple[str, ...], list[int]] = {}
    for i, f in enumerate(pred.frame_ids):
        parts = _parts(f)
        for n in range(1, len(parts) + 1):
            by_suffix.setdefault(parts[-n:], []).append(i)
    rows = np.empty(gt.n_frames, dtype=int)
    for g, (fid, image) in enumerate(zip(gt.frame_ids, gt.image_paths, strict=True)):
        row = exact.get(fid, exact.get(str(image), exact.get(image.as_posix())))
        if row is None:
            parts = _parts(fid)
            for n in range(len(parts), 0, -1):
                candidates = by_suffix.get(parts[-n:], [])
                if len(candidates) > 1:
                    names = ", ".join(repr(pred.frame_ids[c]) for c in candidates[:3])
                    raise InputError(
                        pred_path, f"frame {fid!r} matches several predicted frames: {names}"
                    )
                if candidates:
                    row = candidates[0]
                    break
        if row is None:
            raise InputError(pred_path, f"no prediction for frame {fid}")
        rows[g] = row
    used: dict[int, str] = {}
    for fid, row in zip(gt.frame_ids, rows, strict=True):
        if int(row) in used:
            raise InputError(
                pred_path,
                f"predicted frame {pred.frame_ids[row]!r} matches both {used[int(row)]!r} "
                f"and {fid!r}",
            )
        used[int(row)] = fid
    return rows


def align_predictions(gt: Dataset, pred: Predictions, pred_path: str | Path) -> np.ndarray:
    """Predictions in the ground truth's frame and keypoint order.

    Frames are matched by exact frame id, exact image path, or else the longest unique
    trailing path components (DeepLabCut's ``analyze_images`` writes absolute image paths).
    Keypoints are matched by name. Extra predicted frames and keypoints are ignored.

    Returns:
        ``(gt.n_frames, gt.n_keypoints, 3)`` x, y, score.

    Raises:
        InputError: A GT frame has no prediction (or an ambiguous one), or a GT keypoint is
            missing from the predictions.
    """
    pred_path = Path(pred_path)
    kp_index = {k: j for j, k in enumerate(pred.keypoints)}
    missing = [k for k in gt.keypoints if k not in kp_index]
    if missing:
        raise InputError(
            pred_path,
            f"keypoint(s) {', '.join(missing)} missing from the predictions "
            f"(they have {', '.join(pred.keypoints)})",
        )
    rows = _match_frames(gt, pred, pred_path)
    cols = [kp_index[k] for k in gt.keypoints]
    return pred.values[np.ix_(rows, cols)].copy()
