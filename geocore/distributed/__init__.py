"""Scale-out on Dask (dask.distributed): one large raster across workers, and batches of inputs.

Needs the optional dependencies: ``pip install 'geocore[dask]'``. Nothing
here imports Dask until a cluster is asked for, so ``scheduler="none"``
works without it.
"""

from .batch import BatchResult, expand_inputs, run_batch
from .minerals import class_map_distributed, polygons_distributed
from .raster import predict_raster_distributed, strip_ranges
from .scheduler import SchedulerSpec, dask_client, parse_scheduler
from .vectorize import vectorize_distributed

__all__ = ["BatchResult", "SchedulerSpec", "class_map_distributed", "dask_client", "expand_inputs",
           "parse_scheduler", "polygons_distributed", "predict_raster_distributed", "run_batch", "strip_ranges",
           "vectorize_distributed"]
