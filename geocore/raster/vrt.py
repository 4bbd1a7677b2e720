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


def nan_nodata_vrt(ds, band: int) -> str:
    """VRT XML (a string rasterio opens) of one float band of ``ds`` that declares NaN as its nodata.

    GDAL's averaging reads (``out_shape`` with ``Resampling.average``) skip the cells of a declared
    nodata value but let an undeclared NaN spread over every coarse cell it touches; through this VRT,
    a grid that marks nodata only by NaN is averaged like one that declares it.
    """
    dtype = {"float32": "Float32", "float64": "Float64"}[ds.dtypes[band - 1]]
    w, h = ds.width, ds.height
    lines = [f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}">']
    if ds.crs is not None:
        lines.append(f"  <SRS>{escape(ds.crs.to_wkt())}</SRS>")
    lines += ["  <GeoTransform>" + ", ".join(repr(float(v)) for v in ds.transform.to_gdal()) + "</GeoTransform>",
              f'  <VRTRasterBand dataType="{dtype}" band="1">',
              "    <NoDataValue>nan</NoDataValue>",
              "    <ComplexSource>",
              f'      <SourceFilename relativeToVRT="0">{escape(str(ds.name))}</SourceFilename>',
              f"      <SourceBand>{int(band)}</SourceBand>",
              f'      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>',
              f'      <DstRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>',
              "      <NODATA>nan</NODATA>",
              "    </ComplexSource>",
              "  </VRTRasterBand>",
              "</VRTDataset>"]
    return "\n".join(lines)
