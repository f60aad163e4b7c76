"""DeepLabCut label files and projects: reading and writing.

A DeepLabCut project is ``config.yaml`` plus ``labeled-data/<video>/CollectedData_<scorer>.h5``
(and a ``.csv`` twin). Label tables have a 3-level column header ``scorer/bodyparts/coords``
(4 levels with ``individuals`` in multi-animal projects) and one row per image, indexed
either by the image path as one string (DeepLabCut < 2.2) or by a 3-level row index
``("labeled-data", <video>, <image>)`` (DeepLabCut >= 2.2).
"""

from __future__ import annotations

import csv
import datetime
import os
import re
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.paths import atomic_path, atomic_write_text

COORDS = ("x", "y")
_HEADER_NAMES = ("scorer", "individuals", "bodyparts", "coords")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class LabelTable:
    """The labels of one DeepLabCut label file.

    Attributes:
        file: The ``.csv`` or ``.h5`` file read.
        paths: Image path of each row as written in the file, with ``/`` separators.
        keypoints: Keypoint names in file order.
        points: ``(n_rows, n_keypoints, 2)`` float64, NaN = not labelled.
        scorer: The scorer named in the header.
    """

    file: Path
    paths: tuple[str, ...]
    keypoints: tuple[str, ...]
    points: np.ndarray
    scorer: str


# ----------------------------------------------------------------------------------------------
# Reading label tables
# ----------------------------------------------------------------------------------------------


def _table_from_frame(df: pd.DataFrame, file: Path) -> LabelTable:
    """Turn a DeepLabCut label DataFrame into a LabelTable, checking its header."""
    cols = df.columns
    nlev = cols.nlevels
    names = [str(n) if n is not None else None for n in cols.names]
    if nlev == 4:
        individuals = pd.unique(cols.get_level_values(1))
        if len(individuals) > 1:
            raise InputError(
                file,
                f"multi-animal labels ({len(individuals)} individuals: "
                f"{', '.join(map(str, individuals[:5]))}) are not supported yet",
            )
        df = df.droplevel(1, axis=1)
        cols = df.columns
        names = [names[0], names[2], names[3]]
    elif nlev != 3:
        raise InputError(
            file,
            f"expected a 3-level DeepLabCut column header (scorer, bodyparts, coords), "
            f"found {nlev} level(s)",
        )
    if names != [None, None, None] and names != ["scorer", "bodyparts", "coords"]:
        raise InputError(
            file, f"header levels are {names}, expected ['scorer', 'bodyparts', 'coords']"
        )
    scorers = pd.unique(cols.get_level_values(0))
    if len(scorers) != 1:
        raise InputError(file, f"expected one scorer in the header, found {list(scorers)}")
    coords = set(cols.get_level_values(-1))
    if not set(COORDS) <= coords:
        raise InputError(file, f"header has coords {sorted(coords)}, expected x and y")
    keypoints = tuple(str(k) for k in pd.unique(cols.get_level_values(1)))
    values = df.apply(_numeric_column, file=file)
    points = np.full((len(df), len(keypoints), 2), np.nan)
    for j, kp in enumerate(keypoints):
        for c, coord in enumerate(COORDS):
            if (scorers[0], kp, coord) not in values.columns:
                raise InputError(file, f"keypoint {kp!r} has no {coord!r} column")
            column = values.loc[:, (scorers[0], kp, coord)]
            if isinstance(column, pd.DataFrame):
                raise InputError(file, f"keypoint {kp!r} has more than one {coord!r} column")
            points[:, j, c] = column.to_numpy(dtype=np.float64)
    return LabelTable(
        file=file,
        paths=tuple(index_paths(df.index, file)),
        keypoints=keypoints,
        points=points,
        scorer=str(scorers[0]),
    )


def _numeric_column(column: pd.Series, file: Path) -> pd.Series:
    """Floats from a label column; blank and ``NaN`` cells become NaN, other text is an error."""
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float64)
    out = np.full(len(column), np.nan)
    for i, cell in enumerate(column):
        text = "" if cell is None else str(cell).strip()
        if not text:
            continue
        try:
            out[i] = float(text)
        except ValueError:
            raise InputError(
                file, f"row {column.index[i]!r}, column {column.name!r}: {text!r} is not a number"
            ) from None
    return pd.Series(out, index=column.index, name=column.name)


def index_paths(index: pd.Index, file: Path) -> list[str]:
    """Row image paths as ``a/b/c`` strings from an old (string) or new (3-level) index."""
    if isinstance(index, pd.MultiIndex):
        rows = ["/".join(str(p) for p in row if pd.notna(p) and str(p) != "") for row in index]
    else:
        rows = [str(p) for p in index]
    out = []
    for r in rows:
        r = r.replace("\\", "/").strip()
        if not r or r.lower() == "nan":
            raise InputError(file, "a label row has no image path")
        out.append(r)
    return out


def read_label_csv(file: Path) -> LabelTable:
    """Read a DeepLabCut ``CollectedData*.csv`` (old or new row index).

    Raises:
        InputError: The header is not DeepLabCut's scorer/bodyparts/coords or a cell is not
            a number.
    """
    file = Path(file)
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(file, f"cannot read CSV ({exc})") from None
    n_header = 0
    for row in rows:
        if row and row[0].strip().lower() in _HEADER_NAMES:
            n_header += 1
        else:
            break
    head = [r[0].strip().lower() for r in rows[:n_header]]
    if head not in (
        ["scorer", "bodyparts", "coords"],
        ["scorer", "individuals", "bodyparts", "coords"],
    ):
        raise InputError(
            file,
            f"expected DeepLabCut header rows scorer, bodyparts, coords; found "
            f"{head or [rows[0][0] if rows and rows[0] else '']}",
        )
    coords_row = rows[n_header - 1]
    n_index = next(
        (j for j, c in enumerate(coords_row) if c.strip() in ("x", "y", "likelihood")), None
    )
    if n_index is None or n_index == 0:
        raise InputError(file, "the coords header row names no x/y columns")
    width = len(coords_row)
    header = [r + [""] * (width - len(r)) for r in rows[:n_header]]
    columns = pd.MultiIndex.from_arrays(
        [[c.strip() for c in h[n_index:]] for h in header], names=head
    )
    body = [r[:width] + [""] * (width - len(r)) for r in rows[n_header:]]
    index_cells = [[c.strip() for c in r[:n_index]] for r in body]
    index: pd.Index
    if n_index == 1:
        index = pd.Index([c[0] for c in index_cells])
    else:
        index = pd.MultiIndex.from_tuples([tuple(c) for c in index_cells], names=[None] * n_index)
    data = pd.DataFrame([r[n_index:] for r in body], index=index, columns=columns, dtype=object)
    return _table_from_frame(data, file)


def read_h5_table(file: Path) -> pd.DataFrame:
    """The pandas table of a DeepLabCut h5 file: key ``df_with_missing``, else its only key.

    DeepLabCut writes labels under ``df_with_missing``; its ``analyze_*`` functions write
    predictions under another single key (``predictions`` in 3.x).

    Raises:
        InputError: The file is not HDF5 or holds no single usable pandas table.
    """
    file = Path(file)
    try:
        with pd.HDFStore(file, mode="r") as store:
            keys = store.keys()
            if "/df_with_missing" in keys:
                key = "/df_with_missing"
            elif len(keys) == 1:
                key = keys[0]
            elif not keys:
                raise InputError(file, "the h5 file holds no pandas table (no keys)")
            else:
                raise InputError(
                    file, f"the h5 file holds several tables {keys} and none is 'df_with_missing'"
                )
            df = store.get(key)
    except InputError:
        raise
    except Exception as exc:  # tables/pandas raise many types for non-HDF5 or foreign HDF5
        raise InputError(
            file, f"not a readable pandas h5 file ({exc.__class__.__name__})"
        ) from None
    if not isinstance(df, pd.DataFrame):
        raise InputError(file, f"key {key!r} holds a {type(df).__name__}, not a table")
    return df


def read_label_h5(file: Path) -> LabelTable:
    """Read a DeepLabCut ``CollectedData*.h5`` (key ``df_with_missing`` or its only key).

    Raises:
        InputError: The file is not HDF5 or holds no usable pandas table.
    """
    return _table_from_frame(read_h5_table(Path(file)), Path(file))


def read_label_file(file: Path) -> LabelTable:
    """Read a DeepLabCut label file, ``.h5`` or ``.csv`` by its suffix."""
    file = Path(file)
    if file.suffix.lower() in (".h5", ".hdf5"):
        return read_label_h5(file)
    return read_label_csv(file)


# ----------------------------------------------------------------------------------------------
# Reading projects and bare label files
# ----------------------------------------------------------------------------------------------


def _load_config(config: Path) -> dict:
    try:
        cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(
            config, f"cannot read the DeepLabCut config ({exc.__class__.__name__})"
        ) from None
    if not isinstance(cfg, dict):
        raise InputError(config, "the DeepLabCut config is not a YAML mapping")
    return cfg


def _project_label_files(root: Path, scorer: str | None) -> list[Path]:
    """One label file per labelled folder under ``labeled-data`` (h5 preferred over csv)."""
    data = root / "labeled-data"
    files = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()) if data.is_dir() else []:
        candidates = sorted(folder.glob("CollectedData_*.h5")) + sorted(
            folder.glob("CollectedData_*.csv")
        )
        if not candidates:
            continue  # a video that was never labelled, or a *_labeled plot folder
        own = [c for c in candidates if scorer and c.stem == f"CollectedData_{scorer}"]
        files.append((own or candidates)[0])
    return files


def _warn_bodyparts_differ(config: Path, cfg: dict, table: LabelTable) -> None:
    """Warn when ``config.yaml`` lists other bodyparts (or another order) than the labels.

    DeepLabCut does not refuse this: its ``create_training_dataset`` reindexes the labels to
    the config's list, dropping labelled bodyparts the config lacks and adding empty ones.
    kpbench keeps what was labelled: the label file's keypoints, in its order.
    """
    listed = cfg.get("bodyparts")
    if not isinstance(listed, list) or not listed:
        return
    listed = [str(b) for b in listed]
    labelled = list(table.keypoints)
    if listed == labelled:
        return
    unlabelled = [b for b in listed if b not in labelled]
    unlisted = [k for k in labelled if k not in listed]
    if unlabelled or unlisted:
        parts = []
        if unlisted:
            parts.append(f"not in config: {', '.join(unlisted)}")
        if unlabelled:
            parts.append(f"not in the labels: {', '.join(unlabelled)}")
        what = "; ".join(parts)
    else:
        what = "same names, other order"
    warnings.warn(
        f"{config}: bodyparts {listed} differ from the keypoints {labelled} of {table.file} "
        f"({what}); kpbench uses the label file's keypoints, in its order (DeepLabCut would "
        "train on the config's list): make config.yaml list them",
        stacklevel=3,
    )


def _label_difference(h5: LabelTable, csv: LabelTable) -> str | None:
    """How the labels of an h5 file and its CSV twin differ, in words; None when they agree.

    Rows are matched by frame id; values agree within 1e-4 px, and a point is unlabelled
    where either coordinate is NaN (as in :class:`Dataset`).
    """
    if h5.keypoints != csv.keypoints:
        return f"keypoints {list(h5.keypoints)} in the h5, {list(csv.keypoints)} in the CSV"
    parts = []
    folder = h5.file.parent.name
    rows_h5 = {_frame_id(p, folder): i for i, p in enumerate(h5.paths)}
    rows_csv = {_frame_id(p, folder): i for i, p in enumerate(csv.paths)}
    for label, a, b in (("h5", rows_h5, rows_csv), ("CSV", rows_csv, rows_h5)):
        only = [p for p in a if p not in b]
        if only:
            parts.append(f"{len(only)} row(s) only in the {label}, e.g. {only[0]!r}")
    common = [p for p in rows_h5 if p in rows_csv]
    a = h5.points[[rows_h5[p] for p in common]]
    b = csv.points[[rows_csv[p] for p in common]]
    unlabelled_a, unlabelled_b = np.isnan(a).any(-1), np.isnan(b).any(-1)
    close = np.isclose(a, b, rtol=0.0, atol=1e-4).all(-1)
    differ = (unlabelled_a != unlabelled_b) | (~unlabelled_a & ~unlabelled_b & ~close)
    if differ.any():
        i, j = (int(v) for v in np.argwhere(differ)[0])
        parts.append(
            f"{int(differ.sum())} label(s) differ, e.g. {common[i]!r} {h5.keypoints[j]!r}: "
            f"h5 {_xy(a[i, j])}, CSV {_xy(b[i, j])}"
        )
    return "; ".join(parts) or None


def _xy(point: np.ndarray) -> str:
    return "unlabelled" if np.isnan(point).any() else f"({point[0]:.1f}, {point[1]:.1f})"


def _warn_stale_h5(config: Path, tables: Sequence[LabelTable]) -> None:
    """Warn once when a label h5 and its CSV twin hold different labels.

    DeepLabCut trains on the h5 (the CSV is its human-readable copy), so kpbench reads the
    h5 too; a CSV edited by hand and never converted is the usual cause.
    """
    stale = []
    for table in tables:
        twin = table.file.with_suffix(".csv")
        if table.file.suffix.lower() not in (".h5", ".hdf5") or not twin.is_file():
            continue
        try:
            problem = _label_difference(table, read_label_csv(twin))
        except InputError as exc:
            problem = f"the CSV is unreadable: {exc.problem}"
        if problem:
            stale.append((table.file, twin, problem))
    if not stale:
        return
    h5, twin, problem = stale[0]
    more = f" (and {len(stale) - 1} more folder(s) like it)" if len(stale) > 1 else ""
    warnings.warn(
        f"{h5}: disagrees with its CSV twin {twin.name} ({problem}){more}; kpbench reads the h5, "
        "as DeepLabCut does; if the CSV holds your latest edits, run "
        f"deeplabcut.convertcsv2h5({str(config)!r}, userfeedback=False)",
        stacklevel=3,
    )


def _frame_id(path: str, folder: str) -> str:
    """Frame id relative to the project root for a row path of a file in ``folder``."""
    if "labeled-data/" in path:
        return "labeled-data/" + path.split("labeled-data/", 1)[1]
    return f"labeled-data/{folder}/{Path(path).name}"


def _kpbench_meta(root: Path) -> dict:
    """Facts DeepLabCut's config cannot hold (it rejects unknown keys): ``kpbench.yaml``.

    kpbench's generators write species and ``synthetic`` there, so a project read by path
    still names its species truthfully.
    """
    path = root / "kpbench.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(path, f"not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of dataset facts")
    return {k: data[k] for k in ("species", "synthetic", "generator", "seed") if k in data}


def read_dlc_project(path: Path, *, name: str | None = None) -> tuple[Dataset, tuple[Path, ...]]:
    """Read a DeepLabCut project (folder or its ``config.yaml``).

    Returns:
        The dataset (images not checked yet) and, per frame, the label file it came from.

    Raises:
        InputError: No label files, bad tables, keypoints differ between files, or a frame
            is labelled twice.

    Warns:
        UserWarning: ``config.yaml`` lists other bodyparts than the labels (the labels' are
            used), or a label h5 disagrees with its CSV twin (the h5 is used).
    """
    path = Path(path)
    config = path if path.is_file() else path / "config.yaml"
    root = config.parent.resolve()
    cfg = _load_config(config)
    if cfg.get("multianimalproject"):
        raise InputError(config, "multi-animal DeepLabCut projects are not supported yet")
    scorer = cfg.get("scorer")
    files = _project_label_files(root, str(scorer) if scorer else None)
    if not files:
        raise InputError(
            root, "no labelled frames: no labeled-data/<video>/CollectedData_*.h5 or .csv found"
        )
    tables = [read_label_file(f) for f in files]
    first = tables[0]
    for t in tables[1:]:
        if t.keypoints != first.keypoints:
            raise InputError(
                t.file,
                f"keypoints {list(t.keypoints)} differ from {list(first.keypoints)} "
                f"in {first.file}",
            )
    ids, origins, seen = [], [], {}
    for t in tables:
        for p in t.paths:
            fid = _frame_id(p, t.file.parent.name)
            if fid in seen:
                raise InputError(t.file, f"frame {fid!r} is labelled twice (also in {seen[fid]})")
            seen[fid] = t.file
            ids.append(fid)
            origins.append(t.file)
    _warn_bodyparts_differ(root / config.name, cfg, first)
    _warn_stale_h5(root / config.name, tables)
    edges = [
        tuple(e) for e in cfg.get("skeleton") or [] if isinstance(e, list | tuple) and len(e) == 2
    ]
    meta = {"scorer": first.scorer}
    for key in ("species", "Task"):
        if cfg.get(key):
            meta[key.lower()] = cfg[key]
    meta.update(_kpbench_meta(root))
    ds = Dataset(
        name=name or str(cfg.get("Task") or root.name),
        skeleton=Skeleton.from_names(first.keypoints, edges),
        frame_ids=tuple(ids),
        image_paths=tuple(root / f for f in ids),
        points=np.concatenate([t.points for t in tables]),
        source=root,
        format="deeplabcut",
        meta=meta,
    )
    return ds, tuple(origins)


def read_dlc_file(path: Path, *, name: str | None = None) -> tuple[Dataset, tuple[Path, ...]]:
    """Read a bare DeepLabCut-style label file (e.g. Lightning Pose's ``CollectedData.csv``).

    Image paths in the first column are taken relative to the file's folder; when they do not
    exist there, relative to the nearest parent folder where most of them exist (a label file
    inside a DeepLabCut project refers to the project root).
    """
    path = Path(path).resolve()
    table = read_label_file(path)
    seen: set[str] = set()
    for p in table.paths:
        if p in seen:
            raise InputError(path, f"frame {p!r} is labelled twice")
        seen.add(p)
    base = _best_base(path.parent, table.paths)
    ds = Dataset(
        name=name or path.parent.name,
        skeleton=Skeleton(table.keypoints),
        frame_ids=table.paths,
        image_paths=tuple(base / p if not Path(p).is_absolute() else Path(p) for p in table.paths),
        points=table.points,
        source=path,
        format="deeplabcut-csv",
        meta={"scorer": table.scorer},
    )
    return ds, (path,) * ds.n_frames


def _best_base(folder: Path, paths: Sequence[str]) -> Path:
    """The folder (``folder`` or one of its first three parents) where most images exist."""
    sample = list(paths[:20])
    best, best_count = folder, -1
    for base in [folder, *list(folder.parents)[:3]]:
        count = sum((base / p).is_file() for p in sample)
        if count > best_count:
            best, best_count = base, count
        if count == len(sample):
            break
    return best


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "frames"


def dlc_image_paths(ds: Dataset) -> list[str]:
    """Where each frame's image lives in a DeepLabCut project written by :func:`write_dlc_labels`.

    Frame ids of the form ``labeled-data/<video>/<image>`` are kept. Others (SLEAP, COCO) get
    folder ``labeled-data/<first part of the id, or dataset name>/`` and a unique image name
    made from the rest of the id, keeping the image's suffix.
    """
    out: list[str] = []
    used: set[str] = set()
    for fid, img in zip(ds.frame_ids, ds.image_paths, strict=True):
        parts = fid.replace("\\", "/").split("/")
        if len(parts) == 3 and parts[0] == "labeled-data" and parts[1] and parts[2]:
            rel = fid
        else:
            video = _safe(parts[0]) if len(parts) > 1 else _safe(ds.name)
            stem = _safe("_".join(parts[1:]) if len(parts) > 1 else parts[0])
            stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix else stem
            rel = f"labeled-data/{video}/{stem}{img.suffix.lower() or '.png'}"
        base, k = rel, 1
        while rel in used:
            p = Path(base)
            rel = f"{p.parent.as_posix()}/{p.stem}_{k}{p.suffix}"
            k += 1
        used.add(rel)
        out.append(rel)
    return out


def label_frame(ds: Dataset, scorer: str, rel_paths: Sequence[str]) -> pd.DataFrame:
    """The dataset's labels as a DeepLabCut DataFrame (3-level row and column index)."""
    columns = pd.MultiIndex.from_product(
        [[scorer], list(ds.keypoints), list(COORDS)], names=["scorer", "bodyparts", "coords"]
    )
    index = pd.MultiIndex.from_tuples([tuple(p.split("/")) for p in rel_paths])
    return pd.DataFrame(
        ds.points.reshape(ds.n_frames, -1).astype(np.float64), index=index, columns=columns
    )


def write_dlc_labels(
    ds: Dataset,
    project_dir: Path,
    scorer: str = "kpbench",
    *,
    images: Literal["copy", "symlink", "inplace"] = "copy",
) -> dict[str, list[str]]:
    """Write ``labeled-data/<video>/CollectedData_<scorer>.h5`` and ``.csv`` and the images.

    Args:
        ds: The frames to write.
        project_dir: The project folder (created if needed).
        scorer: Scorer name in the header and file name.
        images: ``copy`` or ``symlink`` the images into the project, or ``inplace`` when they
            already are at ``project_dir/<frame id>``.

    Returns:
        Video folder name -> the frame ids written into it (in dataset order).
    """
    project_dir = Path(project_dir).resolve()
    rel_paths = dlc_image_paths(ds)
    by_video: dict[str, list[int]] = {}
    for i, rel in enumerate(rel_paths):
        by_video.setdefault(rel.split("/")[1], []).append(i)
    for src, rel in zip(ds.image_paths, rel_paths, strict=True):
        dst = project_dir / rel
        if images == "inplace":
            if not dst.is_file():
                raise InputError(dst, "image expected in place (images='inplace') is missing")
            continue
        if dst.exists() and dst.resolve() == Path(src).resolve():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst) as tmp:
            if images == "symlink":
                tmp.unlink()
                os.symlink(Path(src).resolve(), tmp)
            else:
                shutil.copyfile(src, tmp)
    df = label_frame(ds, scorer, rel_paths)
    for video, rows in by_video.items():
        folder = project_dir / "labeled-data" / video
        part = df.iloc[rows]
        with atomic_path(folder / f"CollectedData_{scorer}.h5") as tmp:
            part.to_hdf(tmp, key="df_with_missing", mode="w")
        with atomic_path(folder / f"CollectedData_{scorer}.csv") as tmp:
            part.to_csv(tmp)
    return {video: [ds.frame_ids[i] for i in rows] for video, rows in by_video.items()}


def write_dlc_project(
    ds: Dataset,
    project_dir: Path,
    *,
    scorer: str = "kpbench",
    images: Literal["copy", "symlink", "inplace"] = "copy",
    task: str | None = None,
) -> Path:
    """Write a single-animal DeepLabCut 3 project that ``create_training_dataset`` accepts.

    Layout: ``config.yaml`` (engine pytorch, bodyparts in dataset order, skeleton as name
    pairs, absolute ``project_path``, one ``video_sets`` entry ``<project>/videos/<video>.mp4``
    per labelled folder; the video files themselves are not needed for training) and
    ``labeled-data/<video>/CollectedData_<scorer>.h5|.csv`` plus the images (see
    :func:`dlc_image_paths` for where each frame goes).

    Returns:
        The path of ``config.yaml``.
    """
    from benchmark.images import image_size

    project_dir = Path(project_dir).resolve()
    project_dir.mkdir(parents=True, exist_ok=True)
    write_dlc_labels(ds, project_dir, scorer, images=images)
    rel_paths = dlc_image_paths(ds)
    video_sets: dict[str, dict[str, str]] = {}
    for rel in rel_paths:
        video = rel.split("/")[1]
        key = str(project_dir / "videos" / f"{video}.mp4")
        if key not in video_sets:
            w, h = image_size(project_dir / rel)
            video_sets[key] = {"crop": f"0, {w}, 0, {h}"}
    (project_dir / "videos").mkdir(exist_ok=True)
    # Keys as in DeepLabCut's ProjectConfig (it rejects unknown keys, so no "species" here).
    cfg = {
        "config_version": 0,
        "Task": task or ds.name,
        "scorer": scorer,
        "date": datetime.date.today().strftime("%b%d"),
        "multianimalproject": False,
        "identity": None,
        "project_path": str(project_dir),
        "engine": "pytorch",
        "video_sets": video_sets,
        "bodyparts": list(ds.keypoints),
        "start": 0,
        "stop": 1,
        "numframes2pick": 20,
        "skeleton": [list(e) for e in ds.skeleton.edge_names],
        "skeleton_color": "black",
        "pcutoff": 0.6,
        "dotsize": 12,
        "alphavalue": 0.7,
        "colormap": "rainbow",
        "TrainingFraction": [0.95],
        "iteration": 0,
        "default_net_type": "resnet_50",
        "default_augmenter": "default",
        "snapshotindex": -1,
        "detector_snapshotindex": -1,
        "batch_size": 8,
        "detector_batch_size": 1,
        "cropping": False,
        "x1": 0,
        "x2": 640,
        "y1": 277,
        "y2": 624,
        "corner2move2": [50, 50],
        "move2corner": True,
    }
    config = project_dir / "config.yaml"
    atomic_write_text(config, yaml.safe_dump(cfg, sort_keys=False, width=1_000_000))
    return config


__all__ = [
    "LabelTable",
    "dlc_image_paths",
    "label_frame",
    "read_dlc_file",
    "read_dlc_project",
    "read_label_csv",
    "read_label_file",
    "read_label_h5",
    "write_dlc_labels",
    "write_dlc_project",
]
