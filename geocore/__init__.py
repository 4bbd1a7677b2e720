"""geocore: deep-learning segmentation of magnetic grids and microscope images
that respects georeferencing.

The library is grouped by domain:

- :mod:`geocore.raster`: raster reading, checks and atomic writing;
- :mod:`geocore.models`: network construction, model files (safetensors + JSON
  card) and input normalisation;
- :mod:`geocore.inference`: tile-by-tile inference on rasters of any size;
- :mod:`geocore.distributed`: the same work on a Dask cluster (strips of one
  raster, batches of inputs), with the optional ``geocore[dask]`` extra;
- :mod:`geocore.magnetics`: prism forward modelling and synthetic dyke surveys;
- :mod:`geocore.lineaments`: training, vector axes, metrics and the detection
  pipeline.

Nothing here imports QGIS: ``qgis_plugin/`` is a thin adapter over these
functions.
"""

__version__ = "0.1.0"
