"""Survey grids and potential-field transforms (group Magnetics)."""

from __future__ import annotations

from typing import Dict, Optional

from qgis.core import (
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..compat import FILE_BEHAVIOR_FILE, FLAG_ADVANCED, NUMBER_DOUBLE, NUMBER_INTEGER
from .base import GeocoreAlgorithm, number_range
from .outputs import geotiff_output

GRID_FORMATS = ("Grids (*.grd *.GRD *.tif *.tiff *.ers *.nc *.asc *.img *.xyz);;Geosoft grids (*.grd);;"
                "Surfer grids (*.grd *.GRD);;ER Mapper (*.ers);;netCDF (*.nc);;All files (*)")


def optional_double(alg, parameters: Dict, name: str, context) -> Optional[float]:
    """The value of an optional number parameter, None when it was left empty."""
    if parameters.get(name) is None or parameters.get(name) == "":
        return None
    return alg.parameterAsDouble(parameters, name, context)


def crs_or_none(alg, parameters: Dict, name: str, context) -> Optional[str]:
    crs = alg.parameterAsCrs(parameters, name, context)
    if not crs.isValid():
        return None
    return crs.authid() or crs.toWkt()  # an authority code keeps its name in every output format


class ConvertGrid(GeocoreAlgorithm):
    NAME = "convertgrid"
    DISPLAY_NAME = "Convert survey grid to GeoTIFF"
    GROUP = "magnetics"
    HELP = """<p>Reads a survey grid in any of the formats geophysicists exchange and writes it as a
GeoTIFF with its CRS and nodata, so every QGIS tool can use it.</p>
<h3>Inputs</h3>
<ul><li><b>Grid file</b>: GeoTIFF, Surfer 6/7 <code>.grd</code>, ER Mapper <code>.ers</code>, netCDF (CF, or
the grids verde, harmonica and xarray write, with 1-D <code>easting</code>/<code>northing</code> coordinates),
any other GDAL raster, or a Geosoft Oasis montaj <code>.grd</code> (read with harmonica; its CRS is taken from
the <code>.grd.xml</code> companion). Nodata cells and Geosoft dummies become nodata.</li>
<li><b>Band</b>: for multi-band files. <b>netCDF variable</b>: for netCDF files holding several grids
(e.g. <code>tmi</code>).</li>
<li><b>CRS</b> (optional): assigned when the file has none (Surfer and verde grids carry no CRS). A CRS
different from the one the file has is refused unless <b>Replace the file's CRS</b> is ticked: that
relabels the grid, it does not reproject it.</li>
<li><b>Nodata value</b> (advanced): when the file declares none, the common dummies -99999, -9999,
-999999, &plusmn;1e30, -1e32 and 1.70141e38 are read as nodata where they are the grid's extreme value (the log
says so); give a value to use instead, or <code>nan</code> to keep every value as data.</li></ul>
<h3>Outputs</h3>
<ul><li><b>GeoTIFF</b>: float32 grid (float64 only when the values need it), NaN nodata, same cells, CRS as
read or assigned.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("INPUT", "Grid file", behavior=FILE_BEHAVIOR_FILE,
                                                     fileFilter=GRID_FORMATS))
        self.addParameter(QgsProcessingParameterNumber("BAND", "Band (0: the only one)", type=NUMBER_INTEGER,
                                                       defaultValue=0, minValue=0, optional=True))
        add_read_parameters(self, variable=True)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "GeoTIFF"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.grids.io import convert_grid

        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        band = self.parameterAsInt(parameters, "BAND", context) or None
        with geotiff_output(output) as tif:
            grid = convert_grid(self.parameterAsFile(parameters, "INPUT", context), tif, band=band,
                                progress=self.progress(feedback), cancel=feedback.isCanceled,
                                **read_options(self, parameters, context))
        self.push_notes(grid.notes, feedback)
        crs = grid.crs.to_string() if grid.crs else "none"
        feedback.pushInfo(f"{grid.shape[1]} x {grid.shape[0]} cells, CRS {crs}, {grid.dtype}")
        return {"OUTPUT": output}


def add_read_parameters(alg, variable: bool) -> None:
    """CRS, replace-CRS, nodata (and netCDF variable) parameters of the algorithms that read survey grids."""
    if variable:
        alg.addParameter(QgsProcessingParameterString("VARIABLE", "netCDF variable (empty: the only grid)",
                                                      optional=True))
    alg.addParameter(QgsProcessingParameterCrs("CRS", "CRS to assign when the file has none", optional=True))
    alg.addParameter(QgsProcessingParameterBoolean("FORCE_CRS", "Replace the file's CRS (relabel, no reprojection)",
                                                   defaultValue=False))
    nodata = QgsProcessingParameterString("NODATA", "Nodata value (empty: the file's or common dummies; "
                                                    "nan: none)", optional=True)
    nodata.setFlags(nodata.flags() | FLAG_ADVANCED)
    alg.addParameter(nodata)


def read_options(alg, parameters: Dict, context) -> Dict:
    """Keyword arguments of ``geocore.grids.io.read_grid`` from :func:`add_read_parameters`."""
    from geocore.errors import ParameterError

    text = alg.parameterAsString(parameters, "NODATA", context).strip()
    try:
        nodata = float(text) if text else None
    except ValueError as exc:
        raise ParameterError(f"nodata value '{text}' is not a number; give e.g. -99999 or nan as {{param}}",
                             param="nodata") from exc
    options = {"crs": crs_or_none(alg, parameters, "CRS", context), "nodata": nodata,
               "force_crs": alg.parameterAsBool(parameters, "FORCE_CRS", context)}
    if alg.parameterDefinition("VARIABLE") is not None:
        options["variable"] = alg.parameterAsString(parameters, "VARIABLE", context).strip() or None
    return options


class TransformGrid(GeocoreAlgorithm):
    NAME = "transformgrid"
    DISPLAY_NAME = "Transform potential-field grid"
    GROUP = "magnetics"
    PARAMETER_NAMES = {"stabilization_inclination": "STABILIZATION", "op": "OPERATION"}
    HELP = """<p>Transforms a magnetic (or gravity) grid with harmonica's FFT filters. Gaps (nodata) are
filled and the grid padded by reflection before the transform; the gaps are nodata again in the result,
which keeps the CRS and cells of the input.</p>
<h3>Inputs</h3>
<ul><li><b>Grid</b>: a raster in a projected CRS in metres, north up (a netCDF layer is read by its
coordinates). <b>Band</b>: the band holding the field, for multi-band rasters. <b>CRS</b>, <b>replace the
file's CRS</b> and <b>nodata value</b> as in <i>Convert survey grid to GeoTIFF</i>.</li>
<li><b>Operation</b>: <i>reduction to the pole</i> (needs the field's <b>inclination</b>, positive down,
and <b>declination</b>, clockwise from north, in degrees; at low magnetic latitudes give a
<b>stabilisation inclination</b>, e.g. 30, for MacLeod's amplitude correction); <i>upward continuation</i>
(<b>height</b> in metres, positive up); derivatives towards east, north and up (z up: negative over a
positive anomaly); total horizontal gradient; total gradient amplitude (analytic signal); tilt angle in
degrees (positive over a reduced-to-pole source, zero near its edges); Gaussian high-pass and low-pass
(<b>cut-off wavelength</b> in metres).</li></ul>
<h3>Outputs</h3>
<ul><li><b>Transformed grid</b>: float raster; units nT, nT/m or degrees.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Grid"))
        self.addParameter(QgsProcessingParameterBand("BAND", "Band", parentLayerParameterName="INPUT", optional=True))
        from geocore.magnetics.params import OPERATION_LABELS  # plain data: no numpy at plugin start

        self.addParameter(QgsProcessingParameterEnum("OPERATION", "Operation", options=list(OPERATION_LABELS.values()),
                                                     defaultValue=0))
        for name, label in (("INCLINATION", "Field inclination (degrees, positive down; RTP)"),
                            ("DECLINATION", "Field declination (degrees east of north; RTP)"),
                            ("STABILIZATION", "Stabilisation inclination for low latitudes (degrees; RTP)"),
                            ("HEIGHT", "Continuation height (m, positive up)"),
                            ("WAVELENGTH", "Cut-off wavelength (m; Gaussian filters)")):
            self.addParameter(QgsProcessingParameterNumber(name, label, type=NUMBER_DOUBLE, optional=True))
        add_read_parameters(self, variable=False)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Transformed grid"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.magnetics.params import OPERATIONS
        from geocore.magnetics.transforms import TransformParams, transform_file

        params = TransformParams(
            op=OPERATIONS[self.parameterAsEnum(parameters, "OPERATION", context)],
            inclination=optional_double(self, parameters, "INCLINATION", context),
            declination=optional_double(self, parameters, "DECLINATION", context),
            stabilization_inclination=optional_double(self, parameters, "STABILIZATION", context),
            height=optional_double(self, parameters, "HEIGHT", context),
            wavelength=optional_double(self, parameters, "WAVELENGTH", context))
        params.check()
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with geotiff_output(output) as tif:
            grid = transform_file(self.raster_source(parameters, "INPUT", context), tif, params,
                                  band=self.parameterAsInt(parameters, "BAND", context) or None,
                                  progress=self.progress(feedback), cancel=feedback.isCanceled,
                                  **read_options(self, parameters, context))
        self.push_notes(grid.notes, feedback)
        feedback.pushInfo(f"{params.op}: units {grid.units or 'unknown'}")
        return {"OUTPUT": output}


class GridFlightLines(GeocoreAlgorithm):
    NAME = "gridflightlines"
    PARAMETER_NAMES = {"cell": "CELL_SIZE"}
    DISPLAY_NAME = "Grid flight-line data"
    GROUP = "magnetics"
    METHODS = ("linear", "nearest", "cubic")
    HELP = """<p>Grids survey points along flight lines (a CSV or XYZ table) into a raster at a chosen cell
size and CRS. The points are projected, reduced to one median per cell, interpolated with verde, and
blanked farther than the blanking distance from any point, so no values are invented between distant
lines or outside the survey.</p>
<h3>Inputs</h3>
<ul><li><b>Table</b>: CSV (comma) or XYZ (white space, <code>/</code> comment lines) with a header line;
may be compressed (<code>.gz</code>, <code>.xz</code>, <code>.bz2</code>).</li>
<li><b>Value column</b>: the column to grid. <b>X</b>, <b>Y columns</b>: empty finds x/y, easting/northing or
longitude/latitude by name.</li>
<li><b>CRS of the coordinates</b>: empty means WGS 84 for longitude/latitude columns.</li>
<li><b>Target CRS</b>: empty uses the coordinates' CRS when projected, else the UTM zone of the data.</li>
<li><b>Cell size</b> and <b>blanking distance</b> in metres (empty: three cells).</li>
<li><b>Interpolation</b>: linear (triangulation), nearest or cubic.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Grid</b>: float raster, nodata where blanked.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(
            "INPUT", "Table of points", behavior=FILE_BEHAVIOR_FILE,
            fileFilter="Tables (*.csv *.xyz *.txt *.dat *.gz *.xz *.bz2);;All files (*)"))
        self.addParameter(QgsProcessingParameterString("VALUE", "Value column"))
        self.addParameter(QgsProcessingParameterString("X", "X / longitude column (empty: by name)", optional=True))
        self.addParameter(QgsProcessingParameterString("Y", "Y / latitude column (empty: by name)", optional=True))
        self.addParameter(QgsProcessingParameterCrs("SOURCE_CRS", "CRS of the coordinates (empty: WGS 84 for "
                                                    "longitude/latitude)", optional=True))
        self.addParameter(QgsProcessingParameterCrs("CRS", "Target CRS (empty: UTM zone of the data)", optional=True))
        self.addParameter(QgsProcessingParameterNumber("CELL_SIZE", "Cell size (m)", type=NUMBER_DOUBLE,
                                                       defaultValue=1000.0, **number_range("cell")))
        self.addParameter(QgsProcessingParameterNumber("BLANK", "Blanking distance (m; empty: three cells)",
                                                       type=NUMBER_DOUBLE, optional=True, **number_range("blank")))
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Interpolation", options=list(self.METHODS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Grid"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.grids.lines import LineGridParams, grid_flight_lines

        params = LineGridParams(
            cell=self.parameterAsDouble(parameters, "CELL_SIZE", context),
            value=self.parameterAsString(parameters, "VALUE", context).strip(),
            crs=crs_or_none(self, parameters, "CRS", context),
            x=self.parameterAsString(parameters, "X", context).strip() or None,
            y=self.parameterAsString(parameters, "Y", context).strip() or None,
            source_crs=crs_or_none(self, parameters, "SOURCE_CRS", context),
            blank=optional_double(self, parameters, "BLANK", context),
            method=self.METHODS[self.parameterAsEnum(parameters, "METHOD", context)])
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with geotiff_output(output) as tif:
            result = grid_flight_lines(self.parameterAsFile(parameters, "INPUT", context), tif, params,
                                       progress=self.progress(feedback), cancel=feedback.isCanceled)
        feedback.pushInfo(result.summary())
        return {"OUTPUT": output}
