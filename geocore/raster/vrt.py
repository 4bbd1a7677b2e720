"""GDAL virtual rasters (VRT) written as plain XML, so that no GDAL Python bindings are needed."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape


def stack_bands_vrt(parts: Sequence[str], out: Path, bands: Sequence[int] = (1, 2, 3)) -> Path:
    """Write a VRT stacking ``bands`` of every file in ``parts``, in order (8-bit bands).

    The first file gives the size, transform and CRS; the others must be
    aligned with it and of the same size.
    """
    import rasterio

    with rasterio.open(parts[0]) as first:
        width, height, transform, crs = first.width, first.height, first.transform, first.crs
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
    if crs is not None:
        lines.append(f"  <SRS>{escape(crs.to_wkt())}</SRS>")
    lines.append("  <GeoTransform>" + ", ".join(repr(float(v)) for v in transform.to_gdal()) + "</GeoTransform>")
    n = 0
    for p in parts:
        for b in bands:
            n += 1
            lines += [f'  <VRTRasterBand dataType="Byte" band="{n}">',
                      "    <SimpleSource>",
                      f'      <SourceFilename relativeToVRT="0">{escape(str(p))}</SourceFilename>',
                      f"      <SourceBand>{b}</SourceBand>",
                      f'      <SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>',
                      f'      <DstRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>',
                      "    </SimpleSource>",
                      "  </VRTRasterBand>"]
    lines.append("</VRTDataset>")
    out = Path(out)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
