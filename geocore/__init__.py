"""geocore: deep-learning segmentation of magnetic grids and microscope images
that respects georeferencing.

The library is grouped by domain (``docs/architecture.md`` says what may import what):

- :mod:`geocore.raster`: raster reading with checks, the GeoTIFF profile, VRTs;
- :mod:`geocore.models`: network construction, model files (safetensors + JSON
  card), input normalisation and the shared training-loop pieces;
- :mod:`geocore.inference`: tile-by-tile inference on rasters of any size;
- :mod:`geocore.grids`: survey grids of any format, flight-line gridding;
- :mod:`geocore.magnetics`: prism forward modelling, grid transforms (RTP,
  continuation, derivatives, filters) and synthetic dyke surveys;
- :mod:`geocore.lineaments`: training, detection (CNN and classical methods),
  vector axes, map products, metrics and comparison with expert maps;
- :mod:`geocore.minerals`: ore-mineral segmentation of section photographs,
  training, metrics and mineral statistics;
- :mod:`geocore.microscopy`: flat-field, colour correction, crossed-polar
  alignment, scribble annotation and uncertainty regions;
- :mod:`geocore.panorama`: stitching overlapping microscope tiles;
- :mod:`geocore.distributed`: the same work on a Dask cluster (strips of one
  raster, batches of inputs), with the optional ``geocore[dask]`` extra.

Shared by all: :mod:`geocore.errors`, :mod:`geocore.validate` (parameter
ranges), :mod:`geocore.files` (atomic outputs),
:mod:`geocore.progress` and :mod:`geocore.system`.

Nothing here imports QGIS: ``qgis_plugin/`` is a thin adapter over these
functions.
"""

__version__ = "0.1.0"
