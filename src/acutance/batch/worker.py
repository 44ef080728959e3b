"""The work of one image, the same in every executor: bytes in, encoded bytes out.

Workers never touch the output folder: the driver reads each input and writes each result (atomically),
so a local process pool and a Dask cluster without a shared file system behave exactly like a serial run.
Each worker process keeps the models it has loaded, so a model is loaded once per worker, not per image.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass

from acutance.limits import DEFAULT as DEFAULT_LIMITS
from acutance.limits import Limits, using
from acutance.models.descriptor import Enhancer

_MODELS: dict[str, Enhancer] = {}
_LOADS: dict[str, int] = {}  # how many times this process loaded each model (1, unless something is wrong)
_LOCK = threading.Lock()  # a Dask worker may run several tasks in threads


@dataclass(frozen=True)
class EncodeOptions:
    """How every image of a batch is processed and encoded."""

    model: str
    scale: float
    tile: int | None = None  # None: the model's advice; 0: off
    bit_depth: int | None = None  # None: the input's
    quality: int = 95
    threads: int | None = None  # compute threads per image (OpenCV, numba); None: leave as they are
    # The driver's resource limits: a worker process (spawned, or on a Dask cluster) does not inherit them.
    limits: Limits = DEFAULT_LIMITS
    first_frame: bool = False  # an animated input: process its first frame instead of refusing it


@dataclass(frozen=True)
class WorkResult:
    """One processed image: the encoded output and where and how long it took."""

    data: bytes
    seconds: float
    worker: str  # host:pid, to see how work was spread
    model_loads: int  # loads of this model in that worker process so far
    notices: tuple[str, ...] = ()  # what the encoder could not keep (ImageNotice), for the driver to print


def cached_model(name: str) -> tuple[Enhancer, int]:
    """The model ``name``, loaded on first use in this process; also this process's load count."""
    with _LOCK:
        model = _MODELS.get(name)
        if model is None:
            from acutance.models.registry import load_model

            model = _MODELS[name] = load_model(name)
            _LOADS[name] = _LOADS.get(name, 0) + 1
        return model, _LOADS[name]


def limit_threads(threads: int = 1) -> None:
    """Compute with ``threads`` threads: N workers on N cores should not fight over them.

    numba's setting belongs to the calling thread, so this runs in the thread that runs the model.
    """
    import cv2

    cv2.setNumThreads(threads)
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):
        pass


def process_bytes(data: bytes, name: str, file_format: str, options: EncodeOptions) -> WorkResult:
    """Decode ``data``, run the model, encode as ``file_format``; raises ``AcutanceError`` on bad input."""
    from acutance.io import decode_image, encode_image
    from acutance.pipeline import enhance_image

    from acutance.io import ImageNotice

    start = time.perf_counter()
    if options.threads:
        limit_threads(options.threads)
    with using(options.limits):
        image = decode_image(data, name, first_frame=options.first_frame)  # size checked before the model loads
        model, loads = cached_model(options.model)
        # Notices go back to the driver, which prints them once above its progress bar. (catch_warnings is
        # process-wide: fine with one task per process or thread at a time, as every executor here runs.)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ImageNotice)
            crop = None
            if model.info.task == "upscale":  # an IRN LR and its upscaler belong together (else a notice)
                from acutance.rescale.tag import check_upscale, crop_to

                crop = check_upscale(name, image, options.model, data)
            result = enhance_image(image, model, options.scale, tile=options.tile)
            if crop is not None:
                result = crop_to(result, crop)
            out = encode_image(result, file_format, bit_depth=options.bit_depth, quality=options.quality, name=name)
    notices = []
    for warning in caught:
        if issubclass(warning.category, ImageNotice):
            notices.append(str(warning.message))
        else:  # not ours to swallow
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    return WorkResult(out, time.perf_counter() - start, worker, loads, tuple(notices))
