"""The ``style`` stage of ``acutance video``: a reference's colour look on every frame, one mapping per shot.

Computed per frame, the mapping would follow the content: a person walking through a static shot changes the
frame's colour statistics, so the whole frame's grade would shift with them (flicker). Here the stylising
half comes from the reference, once; the normalising half from the shot: a causal cut detector
(:class:`acutance.preencode.scenes.CutDetector`) watches the decoded input frames, and within a shot the
encoder reads the mean of the colour statistics of its first ``SETTLE`` frames (a mean of histograms is the
histogram of the frames together, so a shot that opens on a fade is not judged by one dark frame); after
that the mapping holds until the next cut. So a static shot gets one fixed per-pixel mapping and the styling
adds no frame-to-frame change of its own.

The mapping depends only on the input frames (``source``), never on the model's output, so the stage
``needs_history``: a resumed run replays the finished segments' frames through ``observe`` and makes the
frames an uninterrupted run would have made.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from acutance.errors import OptionError

SETTLE = 8  # frames of a new shot whose statistics the mapping is computed from (then it holds)


def stage_params(ref: Path, strength: float = 1.0, weights: Path | None = None) -> dict:
    """The stage's JSON-able parameters for ``StageSpec.of("style", ...)``: the reference's path and its bytes'
    SHA-256 (a resumed run with an edited reference starts over instead of mixing two looks)."""
    from acutance.grading.dncm import check_strength

    check_strength(strength)
    path = Path(ref)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise OptionError(f"--style {path}: no such file") from None
    except IsADirectoryError:
        raise OptionError(f"--style {path}: a folder; give one reference image") from None
    except OSError as error:
        raise OptionError(f"--style {path}: {error.strerror or error}") from None
    return {"ref": str(path.resolve()), "sha256": digest, "strength": float(strength),
            "weights": str(Path(weights).resolve()) if weights is not None else None}  # fmt: skip


def build_stage(params: dict, context) -> StyleStage:
    """Read the reference and the encoder, and compute the stylising table, before any frame is decoded."""
    from acutance.grading.dncm import check_strength, is_grayscale, load_encoder
    from acutance.io import read_image

    unknown = set(params) - {"ref", "sha256", "strength", "weights"}
    if unknown or "ref" not in params:
        raise OptionError(f"the style stage takes ref (and sha256, strength, weights), not {', '.join(sorted(unknown))}")
    strength = float(params.get("strength", 1.0))
    check_strength(strength)
    ref = read_image(Path(params["ref"])).rgb
    if is_grayscale(ref):
        raise OptionError(f"--style {Path(params['ref']).name} is grayscale: it has no colours to transfer; "
                          "give a colour reference")  # fmt: skip
    encoder = load_encoder(params.get("weights"))
    return StyleStage(encoder, encoder.tables(ref)[1], strength)


class StyleStage:
    needs_history = True

    def __init__(self, encoder, stylise: np.ndarray, strength: float) -> None:
        from acutance.preencode.scenes import CutDetector

        self.encoder, self.stylise, self.strength = encoder, stylise, strength
        self.detector = CutDetector()
        self.total: np.ndarray | None = None  # sum of the shot's first frames' encoder features
        self.count = 0
        self.mapping = None
        self.shots: list[int] = []  # first frame of every shot seen

    def observe(self, index: int, source) -> None:
        from acutance.grading.dncm import ColourMapping, encoder_features

        if self.detector(source):
            self.total, self.count = None, 0
            self.shots.append(index)
        if self.count < SETTLE:  # the shot's statistics are still being gathered: the mapping follows them
            features = encoder_features(source)
            self.total = features if self.total is None else self.total + features
            self.count += 1
            normalise = self.encoder.tables_from_features(self.total / self.count)[0]
            self.mapping = ColourMapping(normalise, self.stylise)

    def __call__(self, index: int, source, frame):
        self.observe(index, source)
        return self.mapping.apply(frame, self.strength)


def added_change(inputs, outputs, still: float = 1.0) -> float:
    """The frame-to-frame colour change the styling adds where the picture holds still: over the pixels whose
    input changes by less than ``still`` CIEDE2000 between two consecutive frames (a static camera's
    background, under its noise), the mean CIEDE2000 between the output frames minus that between the input
    frames, over all consecutive pairs. About 0 for a mapping that holds still from frame to frame."""
    import colour

    def lab(rgb):
        return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(np.clip(rgb, 0, 1).astype(np.float64)))

    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise OptionError("added_change needs two equally long runs of at least two frames")
    added, count = 0.0, 0
    previous = None
    for source, out in zip(inputs, outputs):
        current = lab(source), lab(out)
        if previous is not None:
            change_in = colour.delta_E(previous[0], current[0], method="CIE 2000")
            change_out = colour.delta_E(previous[1], current[1], method="CIE 2000")
            mask = change_in < still
            added += float((change_out[mask] - change_in[mask]).sum())
            count += int(mask.sum())
        previous = current
    if count == 0:
        raise OptionError("added_change: no pixel holds still between frames (not a static-camera clip)")
    return added / count
