"""numba kernels of ``acutance.resize.matlab``: one 1-D pass as a fixed-order sum over each output line's taps.

Every output value is ``sum_k weight[k] * input[index[k]]`` taken in the same order, with the same operations,
wherever the line sits in the image (no fastmath, so no reassociation or fused multiply-add), so a crop of
the input gives bit for bit the same outputs in its interior as the whole image. That is what makes tiled
processing equal to untiled: a BLAS product's blocking depends on the matrix sizes and moved the last bit of
a value (and with it a RAISR bucket) between a tile and the whole image. The row pass adds whole input lines
into the output line (contiguous, so it vectorises); the column pass sums each pixel's taps in a float64
scalar. Either way the order is fixed per output.
"""

from __future__ import annotations

from numba import njit, prange


@njit(parallel=True, cache=True)
def resize_rows(image, indices, weights, out):  # pragma: no cover (numba)
    """image (in_len, n) float32 -> out (out_len, n): out[i] = sum_k weights[i, k] * image[indices[i, k]]."""
    taps = indices.shape[1]
    n = image.shape[1]
    for i in prange(out.shape[0]):
        for j in range(n):
            out[i, j] = 0.0
        for k in range(taps):
            w = weights[i, k]
            if w != 0.0:
                src = indices[i, k]
                for j in range(n):
                    out[i, j] += w * image[src, j]


@njit(parallel=True, cache=True)
def resize_columns(image, indices, weights, out):  # pragma: no cover (numba)
    """image (h, in_len, c) float32 -> out (h, out_len, c), the same sum along axis 1."""
    taps = indices.shape[1]
    channels = image.shape[2]
    for r in prange(out.shape[0]):
        for j in range(out.shape[1]):
            for c in range(channels):
                acc = 0.0
                for k in range(taps):
                    acc += weights[j, k] * image[r, indices[j, k], c]
                out[r, j, c] = acc
