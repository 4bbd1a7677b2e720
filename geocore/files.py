"""Safe output handling: outputs appear whole or not at all.

Every writer in geocore writes to a temporary name in the destination folder and
renames it into place when complete, so that an error or a cancel never leaves a
half-written file and never touches an input.

A command that writes several files wraps them in :func:`output_set`: the files
it moved into place are removed again (and the files they replaced restored)
when the command fails or is cancelled, so a set of outputs is committed all or
nothing. With ``replace=`` a re-run into the same folder replaces the whole set
of the earlier run of that command: files the earlier run wrote and this one
did not are removed (by the names the command writes), so no stale output of
another input is left beside the new ones.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Sequence

from .errors import GeocoreError

#: Sidecar suffixes that travel with a Shapefile.
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def _siblings(path: Path) -> list[Path]:
    if path.suffix.lower() == ".shp":
        return [path.with_suffix(s) for s in SHAPEFILE_SIDECARS]
    return [path, Path(str(path) + ".aux.xml")]


class _OutputSet:
    """Bookkeeping of one :func:`output_set`: what was moved into place, what it replaced."""

    def __init__(self, inputs: Sequence = ()) -> None:
        self.inputs = {Path(p).resolve() for p in inputs if p is not None}
        self.placed: list[tuple[Path, Optional[Path]]] = []  # (final, backup of what it replaced)
        self.created_dirs: list[Path] = []
        self.backup_dirs: dict[Path, Path] = {}

    def backup_dir(self, parent: Path) -> Path:
        key = parent.resolve()
        if key not in self.backup_dirs:
            self.backup_dirs[key] = Path(tempfile.mkdtemp(prefix=".geocore-replaced.", suffix=".partial",
                                                          dir=parent))
        return self.backup_dirs[key]

    def place(self, src: Path, dest: Path) -> None:
        """Move ``src`` to ``dest``, keeping what ``dest`` held until the set is committed."""
        backup = None
        if dest.resolve() in self.inputs:
            msg = (f"output '{dest}' would replace the input of the same name; choose another output folder "
                   f"so the input is kept")
            raise GeocoreError(msg)
        if dest.exists() or dest.is_symlink():
            if any(dest == d for d, _ in self.placed):
                backup = None  # written twice in one set: the first copy is ours
                if dest.is_dir() and not dest.is_symlink():
                    shutil.rmtree(dest)
            else:
                backup = self.backup_dir(dest.parent) / f"{len(self.placed)}_{dest.name}"
                os.replace(dest, backup)
        try:
            os.replace(src, dest)
        except BaseException:
            if backup is not None:
                os.replace(backup, dest)
            raise
        self.placed.append((dest, backup))

    def rollback(self) -> None:
        for dest, backup in reversed(self.placed):
            with contextlib.suppress(OSError):
                if dest.is_dir() and not dest.is_symlink():
                    shutil.rmtree(dest)
                elif dest.exists() or dest.is_symlink():
                    dest.unlink()
                if backup is not None:
                    os.replace(backup, dest)
        for d in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                d.rmdir()  # only when empty: never a folder that holds the user's files

    def cleanup(self) -> None:
        for d in self.backup_dirs.values():
            shutil.rmtree(d, ignore_errors=True)


_CURRENT: contextvars.ContextVar[Optional[_OutputSet]] = contextvars.ContextVar("geocore_output_set", default=None)


@contextlib.contextmanager
def output_set(replace: Optional[tuple[str | os.PathLike, Sequence[str]]] = None,
               inputs: Sequence[str | os.PathLike] = ()) -> Iterator[None]:
    """Commit every output written inside the block all or nothing.

    Files moved into place by :func:`atomic_output` inside the block are
    removed again, and the files they replaced put back, when the block
    raises (an error, :class:`~geocore.errors.Cancelled`, Ctrl-C). Folders
    the block created are removed when they are empty again. Nested sets
    join the outer one.

    Parameters
    ----------
    replace : (folder, patterns) or None
        Replace the whole set of outputs of an earlier run into ``folder``:
        on success, the files matching the glob ``patterns`` (the names the
        command writes, e.g. ``probabilities.tif``, ``imgs/*/*.jpg``) that
        this run did not write are removed. Other files are never touched.
    inputs : paths
        Files no output of the set may replace (the command's inputs): such
        an output raises :class:`~geocore.errors.GeocoreError` and the set is
        rolled back.
    """
    outer = _CURRENT.get()
    if outer is not None:
        outer.inputs.update(Path(p).resolve() for p in inputs if p is not None)
        yield
        return
    txn = _OutputSet(inputs)
    token = _CURRENT.set(txn)
    try:
        try:
            yield
        except BaseException:
            txn.rollback()
            raise
        if replace is not None:
            _replace_set(txn, Path(replace[0]), replace[1])
    finally:
        _CURRENT.reset(token)
        txn.cleanup()


def all_or_nothing(func):
    """Decorate a function that writes several outputs: they are committed all or none (:func:`output_set`)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with output_set():
            return func(*args, **kwargs)

    return wrapper


def _replace_set(txn: _OutputSet, folder: Path, patterns: Sequence[str]) -> None:
    """Remove the files matching ``patterns`` in ``folder`` that this set did not write."""
    if not folder.is_dir():
        return
    written = {dest.resolve() for dest, _ in txn.placed}
    for pattern in patterns:
        for old in folder.glob(pattern):
            if (old.is_file() or old.is_symlink()) and old.resolve() not in written \
                    and old.resolve() not in txn.inputs:
                with contextlib.suppress(OSError):
                    old.unlink()


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` (and parents) or explain why it cannot be used."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        msg = f"output folder '{out}' is an existing file; give a folder path instead"
        raise GeocoreError(msg)
    missing = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create output folder '{out}': {exc.strerror}; choose a writable folder"
        raise GeocoreError(msg) from exc
    txn = _CURRENT.get()
    if txn is not None:
        txn.created_dirs.extend(reversed(missing))
    return out


def check_not_input(outputs: Sequence[str | os.PathLike], inputs: Sequence[str | os.PathLike]) -> None:
    """Refuse to write an output over one of the inputs."""
    ins = {Path(p).resolve() for p in inputs if p is not None}
    for out in outputs:
        if out is not None and Path(out).resolve() in ins:
            msg = f"output '{out}' is also an input; choose another output path so the input is kept"
            raise GeocoreError(msg)


def check_distinct(outputs: dict) -> None:
    """Refuse two outputs with the same path (the second would replace the first).

    ``outputs`` maps a name for messages (``"--map"``) to a path or None.
    """
    seen: dict[Path, str] = {}
    for name, path in outputs.items():
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            msg = f"{seen[key]} and {name} are the same file '{path}'; give each output its own path"
            raise GeocoreError(msg)
        seen[key] = name


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success.

    The temporary file keeps the final suffix so that GDAL/OGR drivers pick the
    right format. On any exception (including :class:`~geocore.errors.Cancelled`)
    the temporary files are removed and ``path`` is left as it was. A Shapefile's
    sidecar files (``.shx``, ``.dbf``, ...) move together.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "a.txt").read_text()
    'done'
    """
    final = Path(path)
    parent = final.parent if str(final.parent) else Path(".")
    prepare_out_dir(parent)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{final.stem}.", suffix=".partial", dir=parent))
    tmp = tmpdir / final.name
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        txn = _CURRENT.get()
        for src in _siblings(tmp):
            if src.exists():
                if src.is_file():
                    os.chmod(src, 0o666 & ~umask)
                if txn is not None:
                    txn.place(src, final.parent / src.name)
                else:
                    os.replace(src, final.parent / src.name)
        # a Shapefile written again must not keep stale sidecars of the old one
        if final.suffix.lower() == ".shp":
            for old in _siblings(final):
                if not (tmpdir / old.name).exists() and old.suffix.lower() in (".qix", ".sbn", ".sbx"):
                    old.unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def read_vector(path: str | os.PathLike, what: str = "vector layer",
                formats: str = "a GeoPackage, Shapefile, GeoJSON, ..."):
    """Read any OGR vector as a GeoDataFrame, with one-line errors naming ``what``.

    Parameters
    ----------
    path : path
        The file (or OGR data source).
    what : str
        What the file is, for messages (``"expert lines"``, ``"strokes file"``).
    formats : str
        The formats to suggest when OGR cannot read the file.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise GeocoreError(f"{what} '{path}' does not exist; check the path")
    try:
        return gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        msg = f"{what} '{path}' is not a vector OGR reads; give {formats}"
        raise GeocoreError(msg) from exc


def write_vector(gdf, path: str | os.PathLike, geometry_type: str = "Polygon") -> Path:
    """Write a GeoDataFrame in the OGR format named by the extension (.gpkg, .shp, .geojson, ...).

    Written atomically (see :func:`atomic_output`); the layer is named after
    the file; an empty frame still gives a valid, empty layer with the fields
    and the CRS.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
    path : path
        Destination; its extension chooses the driver.
    geometry_type : str
        OGR geometry type of the layer (``"Polygon"``, ``"LineString"``, ...).
    """
    import pyogrio

    path = Path(path)
    try:
        driver = pyogrio.raw.detect_write_driver(str(path))
    except ValueError as exc:
        msg = f"cannot tell the vector format of '{path}' from its extension; use .gpkg, .shp or .geojson"
        raise GeocoreError(msg) from exc
    with atomic_output(path) as tmp:
        try:
            pyogrio.write_dataframe(gdf, tmp, driver=driver, geometry_type=geometry_type, layer=path.stem,
                                    promote_to_multi=False)
        except Exception as exc:  # OGR errors come in several types
            msg = f"could not write '{path}' ({exc}); choose another format or folder"
            raise GeocoreError(msg) from exc
        repair_prj(tmp)
    return path


def repair_prj(shapefile: str | os.PathLike) -> None:
    """Repair the ``.prj`` of a Shapefile just written through OGR, in place.

    PROJ writes a unit of 1E-06 (the micrometre CRSs of microscope outputs)
    as ``1E-06.0`` in ESRI WKT, which GDAL and QGIS cannot read back: the
    layer would lose its CRS.
    """
    prj = Path(shapefile).with_suffix(".prj")
    if prj.is_file():
        prj.write_text(re.sub(r"(\d[eE][-+]?\d+)\.0\b", r"\1", prj.read_text()))
