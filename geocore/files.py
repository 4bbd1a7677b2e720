"""Safe output handling: outputs appear whole or not at all.

Every writer in geocore writes to a temporary name in the destination folder and
renames it into place when complete, so that an error or a cancel never leaves a
half-written file and never touches an input.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from .errors import GeocoreError

#: Sidecar suffixes that travel with a Shapefile.
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def _siblings(path: Path) -> list[Path]:
    if path.suffix.lower() == ".shp":
        return [path.with_suffix(s) for s in SHAPEFILE_SIDECARS]
    return [path, Path(str(path) + ".aux.xml")]


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` (and parents) or explain why it cannot be used."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        msg = f"output folder '{out}' is an existing file; give a folder path instead"
        raise GeocoreError(msg)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create output folder '{out}': {exc.strerror}; choose a writable folder"
        raise GeocoreError(msg) from exc
    return out


def check_not_input(outputs: Sequence[str | os.PathLike], inputs: Sequence[str | os.PathLike]) -> None:
    """Refuse to write an output over one of the inputs."""
    ins = {Path(p).resolve() for p in inputs if p is not None}
    for out in outputs:
        if out is not None and Path(out).resolve() in ins:
            msg = f"output '{out}' is also an input; choose another output path so the input is kept"
            raise GeocoreError(msg)


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
        for src in _siblings(tmp):
            if src.exists():
                if src.is_file():
                    os.chmod(src, 0o666 & ~umask)
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
    layer would lose its CRS. A file in the micrometre CRS of the microscope
    outputs (a Shapefile or a GeoPackage) is then given the WKT that QGIS
    reads as the same CRS as the rasters
    (:func:`geocore.raster.micrometre.stamp_vector_crs`).
    """
    from .raster.micrometre import stamp_vector_crs

    prj = Path(shapefile).with_suffix(".prj")
    if prj.is_file():
        prj.write_text(re.sub(r"(\d[eE][-+]?\d+)\.0\b", r"\1", prj.read_text()))
    stamp_vector_crs(shapefile)
