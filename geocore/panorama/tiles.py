"""Finding the tiles of a panorama and reading them.

Tiles are given as files and/or folders. Their layout comes from, in order of
preference:

1. a CSV of approximate stage positions (``file,x_px,y_px`` or ``file,x_um,y_um``);
2. row/column numbers in the file names: ``r3_c7``, ``r3-c7`` (any case, any
   prefix or suffix), or ``3.7`` at the end of the name (``R.C``);
3. nothing: an unordered set, where every pair of tiles is tried.

Images are read with GDAL (through rasterio): grey or RGB, 8 or 16 bit, any
format GDAL reads (TIFF, PNG, JPEG, BMP, ...). All tiles must have the same size,
band count and data type.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import GeocoreError, ParameterError

#: File suffixes taken from a folder (case-insensitive).
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".jp2")

_ROW_COL = re.compile(r"(?:^|[^a-z])r(\d+)[_\-\s]*c(\d+)(?![0-9])", re.IGNORECASE)
_DOT_ROW_COL = re.compile(r"(?:^|[^0-9.])(\d+)\.(\d+)$")


@dataclass
class Tile:
    """One image of the panorama.

    Attributes
    ----------
    path : Path
        The image file.
    row, col : int or None
        Grid position parsed from the name (0-based after renumbering), or None.
    stage_yx : tuple of float or None
        Approximate position of the top-left pixel, ``(y, x)`` in pixels of the
        tile (y down), from a CSV of stage positions, or None.
    """

    path: Path
    row: Optional[int] = None
    col: Optional[int] = None
    stage_yx: Optional[Tuple[float, float]] = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class TileSet:
    """The tiles and what they share.

    Attributes
    ----------
    tiles : list of Tile
    height, width : int
        Size of every tile in pixels.
    bands : int
        1 (grey) or 3 (RGB).
    dtype : str
        ``"uint8"`` or ``"uint16"``.
    layout : str
        ``"stage"``, ``"grid"`` or ``"unordered"``.
    ignored : list of Path
        Files in the given folders that were not used (names without a row/column
        when the others have one), reported to the user.
    """

    tiles: List[Tile]
    height: int
    width: int
    bands: int
    dtype: str
    layout: str
    ignored: List[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tiles)

    @property
    def shape(self) -> Tuple[int, int]:
        """``(height, width)`` of every tile."""
        return self.height, self.width

    @property
    def max_value(self) -> int:
        """Largest value of the data type (255 or 65535)."""
        return int(np.iinfo(self.dtype).max)


def parse_row_col(name: str) -> Optional[Tuple[int, int]]:
    """Row and column numbers in a file name, or None.

    Examples
    --------
    >>> parse_row_col("r003_c006.tiff"), parse_row_col("scan-R1-C12.png"), parse_row_col("tile_2.5.jpg")
    ((3, 6), (1, 12), (2, 5))
    >>> parse_row_col("IMG_0042.jpg") is None
    True
    """
    stem = Path(name).stem
    m = _ROW_COL.search(stem)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = _DOT_ROW_COL.search(stem)
    if m:
        return int(m.group(1)), int(m.group(2))
    return None


def _expand(inputs: Sequence[str | os.PathLike]) -> Tuple[List[Path], List[Path]]:
    """Files given directly, and files found in the given folders."""
    direct, from_folders = [], []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                msg = f"folder '{p}' holds no images ({', '.join(IMAGE_SUFFIXES)}); give the folder of the tiles"
                raise GeocoreError(msg)
            from_folders.extend(found)
        elif p.is_file():
            direct.append(p)
        else:
            msg = f"tile '{p}' does not exist; check the path"
            raise GeocoreError(msg)
    return direct, from_folders


def read_positions_csv(path: str | os.PathLike, um_per_px: Optional[float] = None) -> dict:
    """Read approximate stage positions.

    Parameters
    ----------
    path : path-like
        CSV with a header: ``file`` and either ``x_px, y_px`` (pixels of the
        tile, y down) or ``x_um, y_um`` (micrometres, y down, converted with
        ``um_per_px``). ``x, y`` are taken as pixels.
    um_per_px : float, optional
        Needed for positions in micrometres.

    Returns
    -------
    dict
        File name (no folder) -> ``(y, x)`` in pixels.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"stage positions file '{p}' does not exist; check the path"
        raise GeocoreError(msg)
    with open(p, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        if "file" not in cols:
            msg = f"'{p}' has no 'file' column; the header must be file,x_px,y_px or file,x_um,y_um"
            raise GeocoreError(msg)
        if "x_um" in cols and "y_um" in cols:
            if not um_per_px:
                msg = f"'{p}' gives positions in micrometres; also give the pixel size ({{param}})"
                raise ParameterError(msg, param="um_per_px")
            kx, ky, scale = cols["x_um"], cols["y_um"], 1.0 / um_per_px
        elif "x_px" in cols and "y_px" in cols:
            kx, ky, scale = cols["x_px"], cols["y_px"], 1.0
        elif "x" in cols and "y" in cols:
            kx, ky, scale = cols["x"], cols["y"], 1.0
        else:
            msg = f"'{p}' needs columns x_px,y_px (pixels) or x_um,y_um (micrometres)"
            raise GeocoreError(msg)
        out = {}
        for i, rec in enumerate(reader, start=2):
            try:
                out[Path(rec[cols["file"]].strip()).name] = (float(rec[ky]) * scale, float(rec[kx]) * scale)
            except (TypeError, ValueError) as exc:
                msg = f"'{p}' line {i}: positions must be numbers"
                raise GeocoreError(msg) from exc
    return out


def _header(path: Path) -> Tuple[int, int, int, str]:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            with rasterio.open(path) as ds:
                return ds.height, ds.width, ds.count, ds.dtypes[0]
        except (RasterioIOError, OSError, ValueError) as exc:
            msg = f"tile '{path.name}' is not an image GDAL can read (corrupt or not an image); remove or replace it"
            raise GeocoreError(msg) from exc


def discover_tiles(
    inputs: Sequence[str | os.PathLike],
    *,
    positions: Optional[str | os.PathLike] = None,
    um_per_px: Optional[float] = None,
    layout: str = "auto",
) -> TileSet:
    """Find the tiles, their layout, and check that they can be stitched.

    Parameters
    ----------
    inputs : sequence of path-like
        Image files and/or folders of images.
    positions : path-like, optional
        CSV of approximate stage positions (see :func:`read_positions_csv`).
    um_per_px : float, optional
        Pixel size, for positions in micrometres.
    layout : {"auto", "grid", "unordered"}
        ``auto`` uses positions when given, else row/column names when every
        tile has one, else an unordered set. ``unordered`` ignores names.

    Returns
    -------
    TileSet

    Raises
    ------
    GeocoreError
        Fewer than two tiles, mixed sizes/bands/types, unsupported types,
        unreadable files.
    """
    if layout not in ("auto", "grid", "unordered"):
        msg = f"layout must be auto, grid or unordered, not {layout!r}"
        raise GeocoreError(msg)
    direct, from_folders = _expand(inputs)
    ignored: List[Path] = []
    if from_folders and layout != "unordered" and positions is None:
        named = [f for f in from_folders if parse_row_col(f.name) is not None]
        # in a folder of rROW_cCOL tiles, other images (a preview, a merged result) are not tiles
        if len(named) >= 2 and len(named) < len(from_folders):
            ignored = [f for f in from_folders if parse_row_col(f.name) is None]
            from_folders = named
    paths = list(dict.fromkeys(direct + from_folders))
    if len(paths) < 2:
        msg = (f"a panorama needs at least two tiles, got {len(paths)}"
               f"{' (' + paths[0].name + ')' if paths else ''}; give more tiles or the folder holding them")
        raise GeocoreError(msg)

    tiles = [Tile(p) for p in paths]
    if positions is not None:
        table = read_positions_csv(positions, um_per_px)
        missing = [t.name for t in tiles if t.name not in table]
        if missing:
            msg = f"no stage position for {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} in '{positions}'"
            raise GeocoreError(msg)
        for t in tiles:
            t.stage_yx = table[t.name]
        kind = "stage"
    else:
        parsed = [parse_row_col(t.name) for t in tiles]
        if layout != "unordered" and all(rc is not None for rc in parsed):
            rows = sorted({rc[0] for rc in parsed})
            cols = sorted({rc[1] for rc in parsed})
            if len(set(parsed)) < len(parsed):
                dup = [t.name for t, rc in zip(tiles, parsed) if parsed.count(rc) > 1]
                msg = f"tiles {', '.join(dup[:4])} have the same row and column; give each grid cell one tile"
                raise GeocoreError(msg)
            for t, (r, c) in zip(tiles, parsed):
                t.row, t.col = rows.index(r), cols.index(c)
            kind = "grid"
        elif layout == "grid":
            bad = [t.name for t, rc in zip(tiles, parsed) if rc is None]
            msg = f"no row/column in the names {', '.join(bad[:4])}; name tiles rROW_cCOL or use layout 'unordered'"
            raise GeocoreError(msg)
        else:
            kind = "unordered"

    headers = [_header(t.path) for t in tiles]
    h, w, count, dtype = headers[0]
    for t, hd in zip(tiles, headers):
        if hd[:2] != (h, w):
            msg = (f"tiles differ in size: '{tiles[0].name}' is {w} x {h} px but '{t.name}' is {hd[1]} x {hd[0]} px; "
                   "all tiles must come from the same camera setting")
            raise GeocoreError(msg)
        if hd[2] != count or hd[3] != dtype:
            msg = (f"tiles differ in bands or type: '{tiles[0].name}' has {count} x {dtype}, "
                   f"'{t.name}' has {hd[2]} x {hd[3]}; convert them to one format")
            raise GeocoreError(msg)
    if dtype not in ("uint8", "uint16"):
        msg = f"tiles are {dtype}; geocore stitches 8- or 16-bit images (grey or RGB)"
        raise GeocoreError(msg)
    if count not in (1, 3, 4):
        msg = f"tiles have {count} bands; geocore stitches grey (1 band) or RGB (3 bands) images"
        raise GeocoreError(msg)
    if min(h, w) < 32:
        msg = f"tiles are {w} x {h} px; at least 32 x 32 px are needed to register them"
        raise GeocoreError(msg)
    return TileSet(tiles=tiles, height=h, width=w, bands=3 if count == 4 else count, dtype=dtype, layout=kind,
                   ignored=ignored)


def _jpeg_truncated(path: Path) -> bool:
    """A JPEG whose data does not end with the end-of-image marker was cut short."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 64))
        tail = fh.read().rstrip(b"\x00\r\n ")
    return not tail.endswith(b"\xff\xd9")


def read_tile(path: str | os.PathLike, bands: Optional[int] = None) -> np.ndarray:
    """Read a whole tile as ``(rows, cols, bands)`` in its own data type, bands in RGB order.

    OpenCV decodes the common formats (fastest); anything else goes through
    GDAL. An alpha band (RGBA) is dropped. Raises a GeocoreError naming the
    file when the image cannot be decoded (truncated or corrupt file).
    """
    import cv2

    p = Path(path)
    msg = f"tile '{p.name}' cannot be decoded (corrupt or truncated image); remove or replace it"
    img = None
    if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"):
        if p.suffix.lower() in (".jpg", ".jpeg") and _jpeg_truncated(p):
            raise GeocoreError(msg)
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is not None and img.ndim == 3 and img.shape[2] not in (3, 4):
            img = None  # unusual band counts: let GDAL read them
    if img is not None:
        if img.ndim == 2:
            img = img[..., None]
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
        else:
            cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)  # in place: no second copy of a large tile
    else:
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            try:
                with rasterio.open(p) as ds:
                    n = 3 if ds.count == 4 else ds.count
                    img = np.ascontiguousarray(np.moveaxis(ds.read(list(range(1, n + 1))), 0, -1))
            except (RasterioIOError, OSError, ValueError) as exc:
                raise GeocoreError(msg) from exc
    if img.ndim == 3 and img.shape[2] == 3 and img.shape[:2] and bands == 1:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None]
    return img


def to_grey(img: np.ndarray) -> np.ndarray:
    """Luminance of a ``(rows, cols, bands)`` RGB or grey image, in its own data type (ITU-R 601 weights)."""
    import cv2

    if img.ndim == 2:
        return img
    if img.shape[2] == 1:
        return img[..., 0]
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def grid_pairs(tiles: Iterable[Tile]) -> List[Tuple[int, int, str]]:
    """Index pairs of 4-neighbours in a grid: ``(i, j, "right"|"down")`` with j right of / below i."""
    index = {(t.row, t.col): i for i, t in enumerate(tiles)}
    pairs = []
    for (r, c), i in sorted(index.items()):
        if (r, c + 1) in index:
            pairs.append((i, index[(r, c + 1)], "right"))
        if (r + 1, c) in index:
            pairs.append((i, index[(r + 1, c)], "down"))
    return pairs


class TileStore:
    """Corrected tiles, decoded once and kept as raw files on disk.

    The first :meth:`load` of a tile decodes and corrects it and writes the
    result to ``folder`` as raw pixels; later loads and :meth:`read_rows` (the
    rows one output strip needs) read from there. Decoding and corrections
    therefore happen once per tile, and the compositing step holds a few
    hundred rows per tile in memory instead of whole tiles.

    Parameters
    ----------
    tileset : TileSet
    correct : callable
        ``correct(img) -> img`` (flat-field, distortion), same shape and type.
    folder : path-like
        Where the raw files go (removed by :meth:`close`).
    check : callable, optional
        Called before every decode (cancellation).
    """

    def __init__(self, tileset: TileSet, correct, folder: str | os.PathLike, check=None) -> None:
        self.tileset = tileset
        self.correct = correct
        self.folder = Path(folder)
        self.check = check
        self.dtype = np.dtype(tileset.dtype)
        self.row_items = tileset.width * tileset.bands
        self.spilled: dict = {}

    def _path(self, i: int) -> Path:
        return self.folder / f"tile_{i:05d}.raw"

    def load(self, i: int) -> np.ndarray:
        """The whole corrected tile ``(h, w, bands)``."""
        if i in self.spilled:
            return self.read_rows(i, 0, self.tileset.height)
        if self.check is not None:
            self.check()
        img = self.correct(read_tile(self.tileset.tiles[i].path, self.tileset.bands))
        img = np.ascontiguousarray(img, dtype=self.dtype)
        try:
            img.tofile(self._path(i))
        except OSError as exc:
            msg = f"cannot write temporary tile data in '{self.folder}' ({exc.strerror}); free some disk space"
            raise GeocoreError(msg) from exc
        self.spilled[i] = True
        return img

    def read_rows(self, i: int, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1`` of corrected tile ``i``."""
        if i not in self.spilled:
            self.load(i)
        n = (r1 - r0) * self.row_items
        data = np.fromfile(self._path(i), dtype=self.dtype, count=n, offset=r0 * self.row_items * self.dtype.itemsize)
        return data.reshape(r1 - r0, self.tileset.width, self.tileset.bands)

    def close(self) -> None:
        for i in list(self.spilled):
            self._path(i).unlink(missing_ok=True)
        self.spilled.clear()
