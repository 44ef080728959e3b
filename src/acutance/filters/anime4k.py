"""Anime4K v0.9 "push" refinement for line art: fused numba passes.

Method by bloc97 (Anime4K, MIT licence); this implementation is ours (Apache-2.0), written from the
published v0.9 description. One pass:

1. luminance ``(2 R + 3 G + B) / 6``;
2. push colour: for each of the 8 kernel configurations (a side of 3 neighbours against the opposite
   side, in 4 orientations), if the side is lighter than the centre and than everything on the opposite
   side, blend the centre toward the mean of that side by ``strength_color``; of the blends (and the
   centre itself) keep the lightest. Dark lines lose their soft edges: they get thinner;
3. Sobel gradient magnitude of the new luminance, inverted (``1 - |grad|``, clipped), so "light" means
   flat;
4. push gradient: the same 8 configurations on the inverted gradient, first match in the original order
   (0, 4, 1, 5, 2, 6, 3, 7); the centre's colour is blended toward the mean colour of the flatter side by
   ``strength_gradient``. Blurred edges become steeper.

Every step is a convex blend of a pixel with its 3x3 neighbours, so nothing leaves the input's range. The
two pushes together could still reach further, so each pass is clipped (per channel) to the 3x3 [min, max]
of its input: no new local extrema, no halo. One pass reads 3 pixels on each side (colour push 1, the
Sobel 1, the gradient push 1). Borders replicate the edge pixel.
The original recomputes luminance as a blended channel after step 2; here it is recomputed from the new
colour, which is the same up to rounding.

Speed: numba kernels, float32 throughout. A pass runs over strips of 64 output rows in parallel
(``prange``, numba's thread pool: ``numba.set_num_threads`` caps it); each strip goes through four
row loops over small edge-padded planes: (a) planar copy + luminance, (b) colour push +
new luminance, (c) inverted Sobel, (d) gradient push + clip, written back interleaved. The kernel tests
are branch-free selects, so the inner loops vectorise; the two kernels of each opposite pair exclude each
other, so the colour push blends 4 candidates, not 8, and the gradient push 1. Results equal the numpy
formulation above bit for bit (tests/test_filters.py keeps it as the reference). The first call in a
fresh environment compiles (tens of seconds on a loaded 2-core machine) and caches the result beside this
file (``cache=True``); later processes load it in well under a second. Measured in
``benchmarks/results/filter_speed.md``.
"""

from __future__ import annotations

import math

import llvmlite.binding as llvm
import numpy as np
from numba import njit, prange

from acutance.contract import check_rgb
from acutance.errors import OptionError
from acutance.resize import imresize

ANIME4K_REACH = 3  # input pixels on each side read by one pass

# The push loops read ~40 neighbour values from a dozen rows and write several planes: LLVM must prove at
# run time that they do not overlap, and by default gives up past 128 such checks and leaves the loop
# scalar (10x slower). Raising the limit (process-wide, like numba's own SVML switch; it only lets more
# loops vectorise, results are unchanged) must happen before the kernels compile.
llvm.set_option("", "-vectorize-memory-check-threshold=4096")

# The 8 kernels in Anime4K's order 0, 4, 1, 5, 2, 6, 3, 7 (light side, dark side, centre must be darker
# than the light side too); the diagonal kernels include the centre in their dark side instead:
#   0 tl tc tr | bl bc br  centre     4 mr br tr | ml tl bl  centre
#   1 bl bc br | tl tc tr  centre     5 ml tl bl | mr br tr  centre
#   2 mr tc tr | mc ml bc             6 mr br bc | mc ml tc
#   3 bl ml bc | mc mr tc             7 tc ml tl | mc mr bc
# Light-side means add in that order, so results match the reference bit for bit.


@njit(fastmath=False, cache=True)
def _luminance(r, g, b):
    return (np.float32(2.0) * r + np.float32(3.0) * g + b) / np.float32(6.0)


@njit(fastmath=False, cache=True)
def _matches(tl, tc, tr, ml, mc, mr, bl, bc, br):  # noqa: PLR0913  (a 3x3 neighbourhood, row by row)
    """Which of the 8 kernels match on this key neighbourhood (luminance or inverted gradient)."""
    top, bottom = min(min(tl, tc), tr), min(min(bl, bc), br)
    top_max, bottom_max = max(max(tl, tc), tr), max(max(bl, bc), br)
    right, left = min(min(mr, br), tr), min(min(ml, tl), bl)
    right_max, left_max = max(max(mr, br), tr), max(max(ml, tl), bl)
    tr_side, bl_side = min(min(mr, tc), tr), min(min(bl, ml), bc)
    br_side, tl_side = min(min(mr, br), bc), min(min(tc, ml), tl)
    return (  # "&", not "and": no branches, so the loops vectorise
        (top > bottom_max) & (top > mc),
        (bottom > top_max) & (bottom > mc),
        tr_side > max(max(mc, ml), bc),
        bl_side > max(max(mc, mr), tc),
        (right > left_max) & (right > mc),
        (left > right_max) & (left > mc),
        br_side > max(max(mc, ml), tc),
        tl_side > max(max(mc, mr), bc),
    )


@njit(fastmath=False, cache=True)
def _mean(side):
    return (side[0] + side[1] + side[2]) / np.float32(3.0)


@njit(fastmath=False, cache=True)
def _pair_means(matched, tl, tc, tr, ml, mr, bl, bc, br):  # noqa: PLR0913
    """One channel: the light-side mean of kernels (0 or 1), (2 or 3), (4 or 5), (6 or 7).

    The kernels of each pair exclude each other (0 needs the top above the bottom, 1 the reverse; 2 needs
    tc > bc, 3 bc > tc; 4/5 right/left; 6 bc > tc, 7 tc > bc), and they are adjacent in the order, so the
    colour push needs one candidate per pair, not per kernel: half the divisions, same result.
    """
    return (
        _mean((tl, tc, tr) if matched[0] else (bl, bc, br)),
        _mean((mr, tc, tr) if matched[2] else (bl, ml, bc)),
        _mean((mr, br, tr) if matched[4] else (ml, tl, bl)),
        _mean((mr, br, bc) if matched[6] else (tc, ml, tl)),
    )


@njit(fastmath=False, cache=True)
def _first_mean(matched, tl, tc, tr, ml, mr, bl, bc, br):  # noqa: PLR0913
    """One channel: the light-side mean of the first matching kernel (of kernel 7 if none matches)."""
    side = (tc, ml, tl)  # kernel 7; then backwards, so the first match wins
    side = (mr, br, bc) if matched[6] else side
    side = (ml, tl, bl) if matched[5] else side
    side = (mr, br, tr) if matched[4] else side
    side = (bl, ml, bc) if matched[3] else side
    side = (mr, tc, tr) if matched[2] else side
    side = (bl, bc, br) if matched[1] else side
    side = (tl, tc, tr) if matched[0] else side
    return _mean(side)


@njit(fastmath=False, cache=True)
def _channel_pair_means(matched, top, middle, bottom, left, centre, right):  # noqa: PLR0913
    return _pair_means(
        matched,
        top[left], top[centre], top[right],
        middle[left], middle[right],
        bottom[left], bottom[centre], bottom[right],
    )  # fmt: skip


@njit(fastmath=False, cache=True)
def _key_matches(top, middle, bottom, left, centre, right):  # noqa: PLR0913
    return _matches(
        top[left], top[centre], top[right],
        middle[left], middle[centre], middle[right],
        bottom[left], bottom[centre], bottom[right],
    )  # fmt: skip


@njit(fastmath=False, cache=True)
def _lighter(matched, r, g, b, mean_r, mean_g, mean_b, strength, best):  # noqa: PLR0913
    """The centre blended toward the side means, with its luminance, if the kernel matched and the blend
    is lighter than ``best`` (r, g, b, luminance); else ``best``."""
    r = r + strength * (mean_r - r)
    g = g + strength * (mean_g - g)
    b = b + strength * (mean_b - b)
    luminance = _luminance(r, g, b)
    take = matched & (luminance > best[3])
    return (r, g, b, luminance) if take else best


@njit(fastmath=False, cache=True)
def _min_max(a, b, c, d, e, f, g, h, i):  # noqa: PLR0913
    low = min(min(min(a, b), min(c, d)), min(min(e, f), min(min(g, h), i)))
    high = max(max(max(a, b), max(c, d)), max(max(e, f), max(max(g, h), i)))
    return low, high


@njit(fastmath=False, cache=True)
def _local_range(top, middle, bottom, left, centre, right):  # noqa: PLR0913
    # The loads go through a function of scalars: min/max over the rows directly here stops LLVM
    # vectorising (the row structs get reloaded inside the loop).
    return _min_max(
        top[left], top[centre], top[right],
        middle[left], middle[centre], middle[right],
        bottom[left], bottom[centre], bottom[right],
    )  # fmt: skip


@njit(fastmath=False, cache=True)
def _pad_columns(plane, y, width):
    plane[y, 0], plane[y, width + 1] = plane[y, 1], plane[y, width]


@njit(fastmath=False, cache=True)
def _pad_rows(plane):
    """Replicate the first and last real rows into the padding (columns are padded row by row)."""
    plane[0, :] = plane[1, :]
    plane[-1, :] = plane[-2, :]


# The four stages of a pass over one strip. Planes are (strip rows + 2) x (W + 2), edge-padded. Indices
# into rows are unsigned: numba then skips its negative-index wraparound, which stops loops vectorising.


@njit(fastmath=False, cache=True)
def _split(rgb, first, source, luma):  # pragma: no cover  (compiled)
    """Planar, padded copy of input rows ``first...`` (H x W * 3, interleaved) and their luminance."""
    height, width = luma.shape[0] - 2, luma.shape[1] - 2
    for y in range(height):
        line = rgb[first + y]
        red, green, blue, out_luma = source[0, y + 1], source[1, y + 1], source[2, y + 1], luma[y + 1]
        for index in range(width):
            padded = np.uint64(index + 1)
            at = np.uint64(3 * index)  # unsigned, and a constant stride of 3: vectorises
            r, g, b = line[at], line[at + np.uint64(1)], line[at + np.uint64(2)]
            red[padded], green[padded], blue[padded] = r, g, b
            out_luma[padded] = _luminance(r, g, b)
        _pad_columns(source[0], y + 1, width)
        _pad_columns(source[1], y + 1, width)
        _pad_columns(source[2], y + 1, width)
        _pad_columns(luma, y + 1, width)


@njit(fastmath=False, cache=True)
def _push_colour(source, luma, strength, pushed, pushed_luma):  # pragma: no cover  (compiled)
    """Of the matching blends and the centre, the lightest (the earliest on ties); and its luminance."""
    height, width = luma.shape[0] - 2, luma.shape[1] - 2
    for y in range(1, height + 1):
        l_top, l_mid, l_bot = luma[y - 1], luma[y], luma[y + 1]
        r_top, r_mid, r_bot = source[0, y - 1], source[0, y], source[0, y + 1]
        g_top, g_mid, g_bot = source[1, y - 1], source[1, y], source[1, y + 1]
        b_top, b_mid, b_bot = source[2, y - 1], source[2, y], source[2, y + 1]
        out_r, out_g, out_b, out_l = pushed[0, y], pushed[1, y], pushed[2, y], pushed_luma[y]
        for index in range(1, width + 1):
            x, left, right = np.uint64(index), np.uint64(index - 1), np.uint64(index + 1)
            matched = _key_matches(l_top, l_mid, l_bot, left, x, right)
            reds = _channel_pair_means(matched, r_top, r_mid, r_bot, left, x, right)
            greens = _channel_pair_means(matched, g_top, g_mid, g_bot, left, x, right)
            blues = _channel_pair_means(matched, b_top, b_mid, b_bot, left, x, right)
            r, g, b = r_mid[x], g_mid[x], b_mid[x]
            best = (r, g, b, l_mid[x])
            # Unrolled by hand: a loop indexing the tuples with a variable would not vectorise.
            best = _lighter(matched[0] | matched[1], r, g, b, reds[0], greens[0], blues[0], strength, best)
            best = _lighter(matched[2] | matched[3], r, g, b, reds[1], greens[1], blues[1], strength, best)
            best = _lighter(matched[4] | matched[5], r, g, b, reds[2], greens[2], blues[2], strength, best)
            best = _lighter(matched[6] | matched[7], r, g, b, reds[3], greens[3], blues[3], strength, best)
            out_r[x], out_g[x], out_b[x], out_l[x] = best
        _pad_columns(pushed[0], y, width)
        _pad_columns(pushed[1], y, width)
        _pad_columns(pushed[2], y, width)
        _pad_columns(pushed_luma, y, width)


@njit(fastmath=False, cache=True)
def _inverted_gradient(luma, key):  # pragma: no cover  (compiled)
    """``1 - min(|Sobel(luma)|, 1)``: light where flat."""
    height, width = luma.shape[0] - 2, luma.shape[1] - 2
    one, two = np.float32(1.0), np.float32(2.0)
    for y in range(1, height + 1):
        top, mid, bot, out = luma[y - 1], luma[y], luma[y + 1], key[y]
        for index in range(1, width + 1):
            x, left, right = np.uint64(index), np.uint64(index - 1), np.uint64(index + 1)
            dx = (top[right] + two * mid[right] + bot[right]) - (top[left] + two * mid[left] + bot[left])
            dy = (top[left] + two * top[x] + top[right]) - (bot[left] + two * bot[x] + bot[right])
            out[x] = one - min(np.sqrt(dx * dx + dy * dy), one)
        _pad_columns(key, y, width)


@njit(fastmath=False, cache=True)
def _gradient_value(matched, top, mid, bot, s_top, s_mid, s_bot, left, x, right, strength):  # noqa: PLR0913
    """One channel: the first matching kernel's blend, clipped to the pass input's 3x3 range."""
    mean = _first_mean(
        matched,
        top[left], top[x], top[right],
        mid[left], mid[right],
        bot[left], bot[x], bot[right],
    )  # fmt: skip
    value = mid[x]
    any_match = matched[0] | matched[1] | matched[2] | matched[3] | matched[4] | matched[5] | matched[6] | matched[7]
    value = value + strength * (mean - value) if any_match else value
    low, high = _local_range(s_top, s_mid, s_bot, left, x, right)
    return min(max(value, low), high)


@njit(fastmath=False, cache=True)
def _push_gradient(pushed, key, source, strength, saturate, start, stop, out, first):  # noqa: PLR0913
    """Gradient push of padded rows ``start:stop`` into ``out`` rows ``first...`` (H x W * 3, interleaved);
    clipped to [0, 1] as well if ``saturate``."""
    width = key.shape[1] - 2
    zero, one = np.float32(0.0), np.float32(1.0)
    low = zero if saturate else np.float32(-np.inf)
    high = one if saturate else np.float32(np.inf)
    for y in range(start, stop):
        k_top, k_mid, k_bot = key[y - 1], key[y], key[y + 1]
        r_top, r_mid, r_bot = pushed[0, y - 1], pushed[0, y], pushed[0, y + 1]
        g_top, g_mid, g_bot = pushed[1, y - 1], pushed[1, y], pushed[1, y + 1]
        b_top, b_mid, b_bot = pushed[2, y - 1], pushed[2, y], pushed[2, y + 1]
        sr_top, sr_mid, sr_bot = source[0, y - 1], source[0, y], source[0, y + 1]
        sg_top, sg_mid, sg_bot = source[1, y - 1], source[1, y], source[1, y + 1]
        sb_top, sb_mid, sb_bot = source[2, y - 1], source[2, y], source[2, y + 1]
        line = out[first + y - start]
        for index in range(1, width + 1):
            x, left, right = np.uint64(index), np.uint64(index - 1), np.uint64(index + 1)
            matched = _key_matches(k_top, k_mid, k_bot, left, x, right)
            r = _gradient_value(matched, r_top, r_mid, r_bot, sr_top, sr_mid, sr_bot, left, x, right, strength)
            g = _gradient_value(matched, g_top, g_mid, g_bot, sg_top, sg_mid, sg_bot, left, x, right, strength)
            b = _gradient_value(matched, b_top, b_mid, b_bot, sb_top, sb_mid, sb_bot, left, x, right, strength)
            at = np.uint64(3 * (index - 1))
            line[at] = min(max(r, low), high)
            line[at + np.uint64(1)] = min(max(g, low), high)
            line[at + np.uint64(2)] = min(max(b, low), high)


STRIP = 64  # output rows per strip: bounded scratch (~4 MB at 1920 wide), 9% of rows recomputed as halo


@njit(parallel=True, fastmath=False, cache=True)
def _push_strips(rgb, strength_color, strength_gradient, saturate, out):  # pragma: no cover  (compiled)
    """One pass over ``rgb`` into ``out`` (both H x W * 3), strip by strip, the strips in parallel.

    A strip of output rows is computed from its input rows plus ANIME4K_REACH rows on each side (clamped at
    the image's edges): the rows the stages pad wrongly at a strip's cut lie within the reach and are not
    kept, so the result is the same as one pass over the whole image.
    """
    height, width = rgb.shape[0], rgb.shape[1] // 3
    for strip in prange((height + STRIP - 1) // STRIP):
        first, last = strip * STRIP, min(height, strip * STRIP + STRIP)
        top, bottom = max(0, first - ANIME4K_REACH), min(height, last + ANIME4K_REACH)
        rows = bottom - top
        source = np.empty((3, rows + 2, width + 2), np.float32)
        luma = np.empty((rows + 2, width + 2), np.float32)  # of the input, then the inverted gradient
        pushed = np.empty((3, rows + 2, width + 2), np.float32)
        pushed_luma = np.empty((rows + 2, width + 2), np.float32)
        _split(rgb, top, source, luma)
        _pad_rows(source[0])
        _pad_rows(source[1])
        _pad_rows(source[2])
        _pad_rows(luma)
        _push_colour(source, luma, strength_color, pushed, pushed_luma)
        _pad_rows(pushed[0])
        _pad_rows(pushed[1])
        _pad_rows(pushed[2])
        _pad_rows(pushed_luma)
        _inverted_gradient(pushed_luma, luma)
        _pad_rows(luma)
        start = first - top + 1  # padded strip row of output row ``first``
        _push_gradient(pushed, luma, source, strength_gradient, saturate, start, start + last - first, out, first)


def _push_pass(rgb: np.ndarray, strength_color: float, strength_gradient: float, saturate: bool) -> np.ndarray:
    """One pass; ``saturate`` also clips to [0, 1] (the last pass: earlier ones only clip to the 3x3 range)."""
    height, width = rgb.shape[:2]
    out = np.empty_like(rgb)
    _push_strips(
        rgb.reshape(height, width * 3),
        np.float32(strength_color),
        np.float32(strength_gradient),
        saturate,
        out.reshape(height, width * 3),
    )
    return out


def _check_options(passes: int, strength_color: float, strength_gradient: float) -> None:
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 0:
        raise OptionError(f"Anime4K passes must be an integer >= 0, got {passes!r}")
    for name, value in (("strength_color", strength_color), ("strength_gradient", strength_gradient)):
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise OptionError(f"Anime4K {name} must be in [0, 1], got {value}")


def anime4k_push(
    rgb: np.ndarray, passes: int = 1, strength_color: float = 0.1, strength_gradient: float = 0.8
) -> np.ndarray:
    """Anime4K v0.9 push passes on float32 HxWx3 RGB in [0, 1] (usually after an upscale).

    Defaults are the recommended fast settings: 1 pass, colour push 0.1, gradient push 0.8 (the original
    Java demo used ``scale / 6`` and ``scale / 2``, i.e. 1/3 and 1 at x2, which is much stronger).
    """
    check_rgb(rgb)
    _check_options(passes, strength_color, strength_gradient)
    if passes == 0:
        return np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)
    current = np.ascontiguousarray(rgb)
    for index in range(passes):
        current = _push_pass(current, strength_color, strength_gradient, saturate=index == passes - 1)
    return current


def _bicubic(rgb: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB bicubic resize clipped to [0, 1], in place when imresize returned a new array (it does
    unless the scale is 1): one 1080p copy less per frame."""
    upscaled = imresize(rgb, scale, method="bicubic")
    if np.shares_memory(upscaled, rgb):
        upscaled = upscaled.copy()
    return np.clip(upscaled, 0.0, 1.0, out=upscaled)


def anime4k_upscale(
    rgb: np.ndarray,
    scale: float,
    passes: int = 1,
    strength_color: float = 0.1,
    strength_gradient: float = 0.8,
) -> np.ndarray:
    """MATLAB bicubic upscale by ``scale``, then :func:`anime4k_push` at the output size."""
    check_rgb(rgb)
    _check_options(passes, strength_color, strength_gradient)
    upscaled = _bicubic(rgb, scale)
    return anime4k_push(upscaled, passes, strength_color, strength_gradient)
