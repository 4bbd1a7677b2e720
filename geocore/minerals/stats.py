"""Mineral statistics of a class map: area fractions, grain sizes, contacts.

- **Area fraction**: the share of each class in all classified pixels, and the
  share of each ore mineral in the ore (non-ore excluded).
- **Grain sizes**: every 4-connected patch of one mineral is a grain; its size
  is the equivalent circle diameter ``ECD = 2 sqrt(A / pi)`` in micrometres;
  grains are counted in user-chosen size classes (class ``[a, b)``), both by
  number and by area.
- **Contacts** (association): the length of boundary shared by each pair of
  classes, counted along pixel edges (each edge between 4-neighbours of
  different classes is one pixel long), in micrometres, and as the share of
  each mineral's boundary.

Written as CSV files, PNG charts and one self-contained HTML report.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from scipy import ndimage

from ..errors import GeocoreError
from ..files import atomic_output, prepare_out_dir
from ..progress import Progress
from .classes import BY_CODE

#: Default grain-size class edges, micrometres.
DEFAULT_SIZE_CLASSES = (0.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
_ROWS = 1024


@dataclass
class MineralStatistics:
    """Statistics of one class map (see the module docstring).

    Attributes
    ----------
    pixel_size : float
        Pixel edge in micrometres.
    codes : list of int
        Classes present, ascending.
    pixels : dict code -> int
    area_fraction : dict code -> float
        Share of all classified pixels.
    ore_fraction : dict code -> float
        Share of ore pixels (non-ore left out; absent for non-ore).
    grain_ecd : dict code -> ndarray
        ECD of every grain in micrometres (ore minerals only).
    size_classes : ndarray
        Class edges in micrometres.
    contacts : ndarray (n, n)
        Shared boundary length in micrometres between ``codes[i]`` and ``codes[j]``.
    """

    pixel_size: float
    codes: list
    pixels: dict
    area_fraction: dict
    ore_fraction: dict
    grain_ecd: dict
    size_classes: np.ndarray
    contacts: np.ndarray
    grain_area: dict = field(default_factory=dict)

    def table(self) -> list[dict]:
        """One row per class: the rows of ``stats.csv``."""
        rows = []
        px_area = self.pixel_size ** 2
        for c in self.codes:
            m = BY_CODE[c]
            ecd = self.grain_ecd.get(c, np.empty(0))
            rows.append({
                "code": c, "label": m.label, "name": m.name, "pixels": self.pixels[c],
                "area_um2": self.pixels[c] * px_area, "area_fraction": self.area_fraction[c],
                "ore_fraction": self.ore_fraction.get(c, ""),
                "grains": int(ecd.size) if c != 0 else "",
                "ecd_mean_um": float(ecd.mean()) if ecd.size else "",
                "ecd_median_um": float(np.median(ecd)) if ecd.size else "",
                "ecd_d10_um": float(np.percentile(ecd, 10)) if ecd.size else "",
                "ecd_d90_um": float(np.percentile(ecd, 90)) if ecd.size else "",
                "ecd_max_um": float(ecd.max()) if ecd.size else "",
                "boundary_um": float(self.contacts[self.codes.index(c)].sum()),
            })
        return rows

    def size_table(self) -> list[dict]:
        """Grains per size class and mineral: the rows of ``grain_sizes.csv``."""
        rows = []
        edges = self.size_classes
        for c, ecd in self.grain_ecd.items():
            m = BY_CODE[c]
            area = self.grain_area[c]
            total = area.sum()
            idx = np.searchsorted(edges, ecd, side="right") - 1
            for k in range(len(edges)):
                lo = edges[k]
                hi = edges[k + 1] if k + 1 < len(edges) else np.inf
                sel = idx == k
                rows.append({"code": c, "label": m.label, "name": m.name, "lower_um": lo,
                             "upper_um": hi if np.isfinite(hi) else "", "grains": int(sel.sum()),
                             "grain_fraction": float(sel.mean()) if ecd.size else 0.0,
                             "area_um2": float(area[sel].sum()),
                             "area_share": float(area[sel].sum() / total) if total else 0.0})
        return rows


def check_size_classes(size_classes: Optional[Sequence[float]]) -> np.ndarray:
    """Size class edges as an ascending array starting at 0 (micrometres)."""
    edges = np.asarray(DEFAULT_SIZE_CLASSES if size_classes is None else size_classes, float)
    if edges.ndim != 1 or edges.size < 1 or not np.all(np.isfinite(edges)) or np.any(edges < 0):
        raise GeocoreError("size classes must be non-negative numbers in micrometres, e.g. 10 20 50 100")
    if np.any(np.diff(edges) <= 0):
        raise GeocoreError(f"size classes {edges.tolist()} must be strictly increasing")
    if edges[0] > 0:
        edges = np.concatenate([[0.0], edges])
    return edges


def contact_lengths(classes: np.ndarray, codes: Sequence[int], pixel_size: float = 1.0) -> np.ndarray:
    """Shared boundary length between every pair of classes (4-neighbour pixel edges).

    Parameters
    ----------
    classes : ndarray (rows, cols) uint8
        Class codes; 255 (nodata) takes part in no contact.
    codes : sequence of int
        The classes of the rows/columns of the result.
    pixel_size : float
        Pixel edge in micrometres.

    Returns
    -------
    ndarray (n, n) float
        Symmetric; ``[i, j]`` is the length of boundary between ``codes[i]``
        and ``codes[j]``; the diagonal is 0.

    Examples
    --------
    >>> a = np.array([[0, 0, 1], [0, 0, 1]], np.uint8)
    >>> contact_lengths(a, [0, 1], 2.0).tolist()
    [[0.0, 4.0], [4.0, 0.0]]
    """
    n = len(codes)
    idx = np.full(256, -1, np.int64)
    idx[list(codes)] = np.arange(n)
    counts = np.zeros(n * n, np.int64)
    H = classes.shape[0]
    for r0 in range(0, H, _ROWS):
        blk = classes[r0:min(H, r0 + _ROWS + 1)]  # one extra row for vertical edges
        for a, b in ((blk[:, :-1], blk[:, 1:]), (blk[:-1], blk[1:])):
            ia, ib = idx[a], idx[b]
            sel = (ia >= 0) & (ib >= 0) & (ia != ib)
            counts += np.bincount(ia[sel] * n + ib[sel], minlength=n * n)
    m = counts.reshape(n, n).astype(float)
    return (m + m.T) * pixel_size


def statistics_from_classes(classes: np.ndarray, pixel_size: float = 1.0,
                            size_classes: Optional[Sequence[float]] = None, progress=None,
                            cancel=None) -> MineralStatistics:
    """Area fractions, grain sizes and contacts of a class map.

    Parameters
    ----------
    classes : ndarray (rows, cols) uint8
        LumenStone class codes; 255 = nodata (left out).
    pixel_size : float
        Pixel edge in micrometres.
    size_classes : sequence of float, optional
        Grain-size class edges in micrometres (default
        :data:`DEFAULT_SIZE_CLASSES`); the last class is open-ended.
    """
    if not (np.isfinite(pixel_size) and pixel_size > 0):
        raise GeocoreError(f"pixel size {pixel_size} must be a positive number of micrometres")
    edges = check_size_classes(size_classes)
    prog = Progress.wrap(progress, cancel)
    counts = np.bincount(classes.ravel(), minlength=256)
    unknown = [int(c) for c in np.nonzero(counts)[0] if c != 255 and c not in BY_CODE]
    if unknown:
        shown = ", ".join(map(str, unknown[:8])) + (f", ... ({len(unknown)} codes)" if len(unknown) > 8 else "")
        raise GeocoreError(f"the class map holds codes {shown} outside the LumenStone table (0-14, 255 nodata); "
                           "give a geocore class map")
    codes = [int(c) for c in np.nonzero(counts)[0] if c in BY_CODE]
    if not codes:
        raise GeocoreError("the class map holds no classified pixel (all nodata)")
    total = sum(int(counts[c]) for c in codes)
    ore_total = sum(int(counts[c]) for c in codes if c != 0)
    pixels = {c: int(counts[c]) for c in codes}
    fractions = {c: counts[c] / total for c in codes}
    ore = {c: counts[c] / ore_total for c in codes if c != 0 and ore_total}
    ecds, areas = {}, {}
    ore_codes = [c for c in codes if c != 0]
    for k, c in enumerate(ore_codes):
        prog.update(0.9 * k / max(len(ore_codes), 1))
        lab, n = ndimage.label(classes == c)
        sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:].astype(float)
        del lab
        area = sizes * pixel_size ** 2
        areas[c] = area
        ecds[c] = 2.0 * np.sqrt(area / np.pi)
    contacts = contact_lengths(classes, codes, pixel_size)
    prog.update(1.0)
    return MineralStatistics(pixel_size=float(pixel_size), codes=codes, pixels=pixels, area_fraction=fractions,
                             ore_fraction=ore, grain_ecd=ecds, size_classes=edges, contacts=contacts,
                             grain_area=areas)


def _write_csv(rows: list[dict], path: Path) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        if not rows:
            fh.write("")
            return
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def _contacts_rows(st: MineralStatistics) -> list[dict]:
    labels = [BY_CODE[c].label for c in st.codes]
    rows = []
    for i, c in enumerate(st.codes):
        row = {"code": c, "label": labels[i]}
        row.update({lab: float(st.contacts[i, j]) for j, lab in enumerate(labels)})
        rows.append(row)
    return rows


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def charts(st: MineralStatistics) -> dict[str, bytes]:
    """PNG charts: ``area_fractions``, ``grain_sizes`` and ``contacts``."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a system matplotlib beside a pip one warns about Axes3D
        import matplotlib.pyplot as plt

    out = {}
    ms = [BY_CODE[c] for c in st.codes]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    vals = [100 * st.area_fraction[c] for c in st.codes]
    ax.bar([m.label for m in ms], vals, color=[m.colour for m in ms], edgecolor="0.3")
    ax.set_ylabel("area fraction (%)")
    ax.set_title("Area fraction of each class")
    for x, v in enumerate(vals):
        ax.text(x, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    out["area_fractions"] = _fig_png(fig)

    edges = st.size_classes
    labels = [f"{edges[k]:g}-{edges[k + 1]:g}" if k + 1 < len(edges) else f">{edges[k]:g}" for k in range(len(edges))]
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ore = [c for c in st.codes if c in st.grain_ecd]
    width = 0.8 / max(len(ore), 1)
    for k, c in enumerate(ore):
        idx = np.searchsorted(edges, st.grain_ecd[c], side="right") - 1
        area = st.grain_area[c]
        share = [100 * area[idx == j].sum() / max(area.sum(), 1e-30) for j in range(len(edges))]
        ax.bar(np.arange(len(edges)) + (k - (len(ore) - 1) / 2) * width, share, width,
               color=BY_CODE[c].colour, edgecolor="0.3", label=BY_CODE[c].label)
    ax.set_xticks(np.arange(len(edges)), labels, rotation=30, fontsize=8)
    ax.set_xlabel("equivalent circle diameter (µm)")
    ax.set_ylabel("share of the mineral's area (%)")
    ax.set_title("Grain-size distribution")
    if ore:
        ax.legend(fontsize=8, ncol=2)
    out["grain_sizes"] = _fig_png(fig)

    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    bound = st.contacts.sum(axis=1, keepdims=True)
    share = np.divide(st.contacts, bound, out=np.zeros_like(st.contacts), where=bound > 0) * 100
    im = ax.imshow(share, cmap="viridis", vmin=0, vmax=100)
    ax.set_xticks(range(len(ms)), [m.label for m in ms], rotation=45)
    ax.set_yticks(range(len(ms)), [m.label for m in ms])
    for i in range(len(ms)):
        for j in range(len(ms)):
            if share[i, j] >= 0.5:
                ax.text(j, i, f"{share[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="w" if share[i, j] < 60 else "k")
    ax.set_title("Contacts: % of the row mineral's boundary")
    fig.colorbar(im, ax=ax, shrink=0.8)
    out["contacts"] = _fig_png(fig)
    return out


def _html_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(f'{v:.4g}' if isinstance(v, float) else str(v))}</td>"
                                    for v in r.values()) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(st: MineralStatistics, pngs: dict[str, bytes], title: str = "Mineral statistics",
                source: str = "", warning: str = "") -> str:
    """One self-contained HTML page: tables and the charts embedded as data URIs.

    ``warning`` (e.g. that the class map comes from the DEMO model) is shown
    in a box at the top."""
    def img(name):
        return f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(pngs[name]).decode()}">'

    size_rows = [r for r in st.size_table() if r["grains"]]
    ore_share = 1.0 - st.area_fraction.get(0, 0.0)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:0.85em;margin:0.5em 0 1.5em}}
td,th{{border:1px solid #bbb;padding:0.2em 0.5em;text-align:right}}th{{background:#eee}}
img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
{_warning_box(warning)}<p>{html.escape(source)}</p>
<p>Pixel size {st.pixel_size:g} µm; {sum(st.pixels.values()):,} classified pixels; ore
{100 * ore_share:.2f} % of the section. Grains are 4-connected patches of one mineral; size is the
equivalent circle diameter (ECD = 2&radic;(A/&pi;)). Contacts are shared boundary lengths along pixel edges.</p>
<h2>Area fractions</h2>{img("area_fractions")}{_html_table(st.table())}
<h2>Grain sizes</h2>{img("grain_sizes")}{_html_table(size_rows)}
<h2>Contacts (µm of shared boundary)</h2>{img("contacts")}{_html_table(_contacts_rows(st))}
<p style="font-size:0.8em;color:#666">Made by geocore. Class map from an automatic segmentation: check it
against the photograph before quoting the figures.</p>
</body></html>
"""


def _warning_box(warning: str) -> str:
    if not warning:
        return ""
    return (f'<p class="warning" style="border:2px solid #c00;background:#fee;padding:0.5em">'
            f'<b>{html.escape(warning)}</b></p>\n')


def write_statistics(st: MineralStatistics, out_dir: str | os.PathLike, *, stack: Optional[contextlib.ExitStack] = None,
                     source: str = "", warning: str = "") -> dict:
    """Write ``stats.csv``, ``grain_sizes.csv``, ``contacts.csv``, three PNG charts and ``report.html``.

    ``warning`` is shown at the top of the report (the DEMO-model notice).

    With ``stack``, the files are moved into place when the stack closes
    (together with the caller's other outputs); otherwise at once.

    Returns
    -------
    dict
        Output name -> path.
    """
    out = prepare_out_dir(out_dir)
    own = stack is None
    stack = stack or contextlib.ExitStack()
    paths = {}
    with (stack if own else contextlib.nullcontext()):
        def target(name):
            paths[name] = out / name
            return stack.enter_context(atomic_output(out / name))

        _write_csv(st.table(), target("stats.csv"))
        _write_csv(st.size_table(), target("grain_sizes.csv"))
        _write_csv(_contacts_rows(st), target("contacts.csv"))
        pngs = charts(st)
        for name, data in pngs.items():
            target(f"{name}.png").write_bytes(data)
        target("report.html").write_text(report_html(st, pngs, source=source, warning=warning), encoding="utf-8")
    return paths


def statistics_from_raster(path: str | os.PathLike, *, um_per_px: Optional[float] = None,
                           size_classes: Optional[Sequence[float]] = None, progress=None,
                           cancel=None) -> MineralStatistics:
    """Statistics of a class map GeoTIFF (e.g. ``classes.tif`` from segment).

    The pixel size is ``um_per_px`` when given, else the raster's cell size
    when it is in the micrometre CRS (:mod:`geocore.raster.micrometre`), else
    1 (pixel units).
    """
    import rasterio

    from ..raster.io import open_raster_checked

    info = open_raster_checked(path, 1, allow_integer=True, check_valid=False, what="class map")
    if np.dtype(info.dtype).kind not in "iu":
        raise GeocoreError(f"'{path}' is {info.dtype}; a class map holds integer class codes (uint8)")
    if um_per_px is None:
        um_per_px = 1.0
        from ..raster.micrometre import is_micrometre_crs

        if is_micrometre_crs(info.crs):
            um_per_px = info.cell_size
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():  # already reported once, as NotGeoreferencedGrid
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            arr = ds.read(1, masked=True)
    classes = np.ma.filled(arr, 255)
    if classes.max() > 255 or classes.min() < 0:
        raise GeocoreError(f"'{path}' holds values outside 0..255; give a geocore class map")
    return statistics_from_classes(classes.astype(np.uint8), um_per_px, size_classes, progress, cancel)


def class_map_note(path: str | os.PathLike) -> str:
    """The model notice a class map carries (``MODEL_NOTE`` tag, e.g. that it comes from the DEMO model), or ""."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                return ds.tags().get("MODEL_NOTE", "")
    except (rasterio.errors.RasterioIOError, OSError):
        return ""
