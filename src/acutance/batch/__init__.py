"""Folder jobs: keep the tree, resume, write a manifest; serially, on local processes or on Dask."""

from acutance.batch.plan import BatchOptions, Record
from acutance.batch.runner import BatchSummary, run_batch, write_manifest

__all__ = ["BatchOptions", "BatchSummary", "Record", "run_batch", "write_manifest"]
