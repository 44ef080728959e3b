"""The face pipeline: alignment geometry, paste-back (mask, colour, fidelity, seams), enhance_faces, and on
the real face images (slow): detection, eye positions on the aligned crops, seams, tiny faces."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.contract import to_uint
from acutance.errors import ModelError, OptionError
from acutance.faces import align
from acutance.faces.align import FFHQ_TEMPLATE_512, align_face, apply_affine, face_transform, similarity_transform
from acutance.faces.enhance import FaceOptions, enhance_faces
from acutance.faces.paste import boundary_gradient_energy, face_mask, match_colour, paste_back

# --------------------------------------------------------------------------------------------- helpers


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), tx], [scale * math.sin(a), scale * math.cos(a), ty]])


def _blobs(shape: tuple[int, int], points: np.ndarray, sigma: float) -> np.ndarray:
    """A float32 RGB image with a Gaussian spot (red channel) at each point."""
    red = np.zeros(shape)
    r = int(5 * sigma) + 1
    for x, y in points:
        x0, y0 = max(0, int(x) - r), max(0, int(y) - r)
        yy, xx = np.mgrid[y0 : min(shape[0], int(y) + r + 1), x0 : min(shape[1], int(x) + r + 1)]
        red[yy, xx] += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    rgb = np.zeros((*shape, 3), dtype=np.float32)
    rgb[..., 0] = np.clip(red, 0, 1)
    return rgb


def _centroid(channel: np.ndarray, x: float, y: float, radius: int) -> np.ndarray:
    x0, y0 = int(round(x)) - radius, int(round(y)) - radius
    window = channel[y0 : y0 + 2 * radius + 1, x0 : x0 + 2 * radius + 1].astype(np.float64)
    yy, xx = np.mgrid[0 : window.shape[0], 0 : window.shape[1]]
    total = window.sum()
    return np.array([(xx * window).sum() / total + x0, (yy * window).sum() / total + y0])


def brighten_and_texture(crop: np.ndarray) -> np.ndarray:
    """A restorer that changes the face a lot: brighter, sharper, with added grain (fixed seed)."""
    rng = np.random.default_rng(0)
    sharp = crop + 1.5 * (crop - cv2.GaussianBlur(crop, (0, 0), 2))
    return np.clip(sharp * 1.15 + 0.06 + rng.normal(0, 0.03, crop.shape), 0, 1).astype(np.float32)


def _face_on_canvas(size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A generated image and the 5 landmarks of a face placed on it by a known similarity."""
    rgb = smooth_test_image(size, size, seed=3)
    to_image = _similarity(8.0, 0.3, 0.0, 0.0)
    points = apply_affine(to_image, FFHQ_TEMPLATE_512)
    points += np.array([size / 2, size / 2]) - points.mean(axis=0)
    return rgb, points


def _diff_seam_ratio(before: np.ndarray, after: np.ndarray, alpha: np.ndarray) -> float:
    """Boundary / interior gradient energy of the change a paste made: > 1 means the paste drew an edge."""
    boundary, interior = boundary_gradient_energy((after - before).astype(np.float32), alpha)
    return boundary / interior


# --------------------------------------------------------------------------------------------- alignment


def test_template_is_facexlib_ffhq_512():
    assert FFHQ_TEMPLATE_512.shape == (5, 2)
    np.testing.assert_allclose(FFHQ_TEMPLATE_512[0], [192.98138, 239.94708])
    np.testing.assert_allclose(FFHQ_TEMPLATE_512[4], [313.08905, 371.15118])
    np.testing.assert_allclose(align.template(256), FFHQ_TEMPLATE_512 / 2)


def test_similarity_transform_recovers_a_known_similarity():
    truth = _similarity(-23.0, 1.7, 40.0, -12.0)
    src = np.array([[10, 20], [100, 25], [60, 80], [30, 120], [90, 118]], dtype=np.float64)
    fitted = similarity_transform(src, apply_affine(truth, src))
    np.testing.assert_allclose(fitted, truth, atol=1e-9)
    # A mirrored target is not reachable: no reflection, so the fit leaves a residual.
    mirrored = apply_affine(truth, src) * np.array([-1, 1])
    assert np.abs(apply_affine(similarity_transform(src, mirrored), src) - mirrored).max() > 5


def test_similarity_transform_rejects_degenerate_points():
    with pytest.raises(OptionError, match="one point"):
        similarity_transform(np.ones((5, 2)), FFHQ_TEMPLATE_512)
    with pytest.raises(OptionError, match="shape"):
        similarity_transform(np.ones((4, 2)), FFHQ_TEMPLATE_512)


def test_face_transform_puts_the_eyes_on_the_template():
    rng = np.random.default_rng(5)
    points = apply_affine(_similarity(15.0, 0.4, 30.0, 50.0), FFHQ_TEMPLATE_512) + rng.normal(0, 2.0, (5, 2))
    affine = face_transform(points)
    np.testing.assert_allclose(apply_affine(affine, points[:2]), FFHQ_TEMPLATE_512[:2], atol=1e-9)


def test_face_transform_caps_the_scale_of_a_turned_face():
    points = FFHQ_TEMPLATE_512.copy()
    points[[0, 1], 0] = 256 + (points[[0, 1], 0] - 256) * 0.5  # eyes foreshortened by a turned head
    affine = face_transform(points)
    eye_mouth = np.linalg.norm(apply_affine(affine, points[3:]).mean(0) - apply_affine(affine, points[:2]).mean(0))
    template = np.linalg.norm(FFHQ_TEMPLATE_512[3:].mean(0) - FFHQ_TEMPLATE_512[:2].mean(0))
    assert eye_mouth == pytest.approx(align.MAX_EYE_MOUTH_STRETCH * template, rel=1e-9)


@pytest.mark.parametrize("scale", [0.3, 2.5])  # a face smaller than the crop, and one larger (area path)
def test_align_face_lands_landmarks_on_the_template(scale):
    to_image = _similarity(12.0, scale, 0.0, 0.0)
    points = apply_affine(to_image, FFHQ_TEMPLATE_512)
    margin = 200 * scale + 20  # the crop reaches past the face: keep reflected spots out of it
    points += margin - points.min(axis=0)
    shape = tuple(int(v + margin) for v in points.max(axis=0)[::-1])
    sigma = 2.0 * max(scale, 1.0)
    crop, affine = align_face(_blobs(shape, points, sigma), points)
    assert crop.shape == (512, 512, 3) and crop.dtype == np.float32
    for x, y in FFHQ_TEMPLATE_512:
        radius = int(4 * sigma / scale) + 3
        assert np.linalg.norm(_centroid(crop[..., 0], x, y, radius) - [x, y]) < 0.35


def test_scale_affine_matches_aligning_the_resized_image():
    rgb, points = _face_on_canvas()
    crop, affine = align_face(rgb, points, 128)
    big = cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    crop_big = cv2.warpAffine(big, align.scale_affine(affine, 2.0), (128, 128), flags=cv2.INTER_LINEAR)
    # Same pixel grid: the two crops differ only by the resampling (a shift would be far larger).
    assert np.abs(crop_big - crop)[16:-16, 16:-16].mean() < 0.02
    shifted = cv2.warpAffine(big, align.scale_affine(affine, 2.0) + [[0, 0, 1.0], [0, 0, 0]], (128, 128))
    assert np.abs(shifted - crop)[16:-16, 16:-16].mean() > 1.5 * np.abs(crop_big - crop)[16:-16, 16:-16].mean()


def test_inverse_warp_round_trip():
    rgb, points = _face_on_canvas()
    crop, affine = align_face(rgb, points, 512)
    back, coverage = align.inverse_warp(crop, affine, rgb.shape[:2])
    inside = coverage > 0.999
    assert inside.sum() > 1000
    assert np.abs(back - rgb)[inside].mean() < 0.01


# --------------------------------------------------------------------------------------------- paste-back


def test_face_mask_is_a_feathered_ellipse_not_a_square():
    mask = face_mask(512)
    assert mask.shape == (512, 512) and mask.dtype == np.float32
    assert mask[300, 256] == pytest.approx(1.0, abs=1e-4)  # the face centre
    for corner in [(0, 0), (0, 511), (511, 0), (511, 511), (40, 40), (470, 470)]:
        assert mask[corner] < 1e-3  # corners of the square crop: untouched
    assert 0.05 < mask[292, 256 + 145 - 24] < 0.95  # feathered edge on the cheek line
    row = mask[292]
    assert np.all(np.abs(np.diff(row)) < 0.06)  # no step anywhere along a row


def test_fidelity_zero_leaves_the_background_bit_exact():
    rgb, points = _face_on_canvas()
    crop, affine = align_face(rgb, points)
    out = paste_back(rgb, brighten_and_texture(crop), affine, fidelity=0.0)
    assert np.array_equal(out, rgb)
    assert np.array_equal(to_uint(out), to_uint(rgb))


def test_fidelity_one_is_the_full_restoration_and_half_is_halfway():
    rgb, points = _face_on_canvas()
    crop, affine = align_face(rgb, points, 128)  # 128: the crop is not shrunk, so the warp is comparable
    restored = brighten_and_texture(crop)
    full, alpha = paste_back(rgb, restored, affine, fidelity=1.0, colour_match=False, return_alpha=True)
    warped, coverage = align.inverse_warp(restored, affine, rgb.shape[:2], interpolation=cv2.INTER_CUBIC)
    core = alpha > 0.9999
    assert core.sum() > 100
    # Equal up to OpenCV's 1/32-pixel coordinate quantisation (the paste warps a region, not the frame).
    np.testing.assert_allclose(full[core], np.clip(warped, 0, 1)[core], atol=1e-4)
    levels = np.abs(to_uint(full)[core].astype(int) - to_uint(np.clip(warped, 0, 1))[core])
    assert levels.max() <= 1 and levels.mean() < 0.02
    half = paste_back(rgb, restored, affine, fidelity=0.5, colour_match=False)
    np.testing.assert_allclose(half[core], 0.5 * (full[core] + rgb[core]), atol=1e-5)
    outside = alpha == 0
    assert np.array_equal(full[outside], rgb[outside])


def test_colour_match_removes_a_restorer_colour_cast():
    rgb, points = _face_on_canvas()
    crop, affine = align_face(rgb, points)
    tinted = np.clip(crop * np.array([1.25, 1.0, 0.8], np.float32) + 0.05, 0, 1).astype(np.float32)
    matched = match_colour(tinted, crop, face_mask(512))
    core = face_mask(512) >= 0.9
    cast_before = np.abs(tinted[core].mean(0) - crop[core].mean(0)).max()
    cast_after = np.abs(matched[core].mean(0) - crop[core].mean(0)).max()
    assert cast_before > 0.04 and cast_after < 0.25 * cast_before


@pytest.mark.parametrize("colour_match", [True, False])
def test_paste_draws_no_seam_on_a_generated_image(colour_match):
    """Acceptance 3 (generated case): the change a paste makes has no more gradient energy along the blend
    boundary than inside the face; a hard square paste of the same face fails the same measure."""
    rgb, points = _face_on_canvas(256)
    crop, affine = align_face(rgb, points)
    restored = brighten_and_texture(crop)
    out, alpha = paste_back(rgb, restored, affine, fidelity=1.0, colour_match=colour_match, return_alpha=True)
    ratio = _diff_seam_ratio(rgb, out, alpha)
    assert ratio < 1.0, ratio

    warped, coverage = align.inverse_warp(restored, affine, rgb.shape[:2])
    square = (coverage > 0.5).astype(np.float32)
    hard = (rgb + square[..., None] * (warped - rgb)).astype(np.float32)
    assert _diff_seam_ratio(rgb, hard, square) > 2.0


def test_paste_back_rejects_bad_arguments():
    rgb, points = _face_on_canvas()
    crop, affine = align_face(rgb, points)
    with pytest.raises(OptionError, match="fidelity"):
        paste_back(rgb, crop, affine, fidelity=1.5)
    with pytest.raises(OptionError, match="2x3"):
        paste_back(rgb, crop, np.eye(3), fidelity=0.5)
    with pytest.raises(OptionError, match="square"):
        paste_back(rgb, crop[:, :100].copy(), affine, fidelity=0.5)


def test_paste_back_far_outside_the_image_changes_nothing():
    rgb, points = _face_on_canvas()
    crop, affine = align_face(rgb, points + 5000.0)
    assert np.array_equal(paste_back(rgb, brighten_and_texture(crop), affine, fidelity=1.0), rgb)


# --------------------------------------------------------------------------------------------- enhance_faces


def _fake_face(points: np.ndarray, size: float):
    from acutance.faces.detect import Face

    centre = points.mean(axis=0)
    box = (centre[0] - size / 2, centre[1] - size / 2, centre[0] + size / 2, centre[1] + size / 2)
    return Face(box=tuple(float(v) for v in box), score=1.0, landmarks5=points)


def test_enhance_faces_with_given_faces_restores_and_skips_small_ones():
    rgb, points = _face_on_canvas()
    face = _fake_face(points, 60)
    out, report = enhance_faces(rgb, brighten_and_texture, faces=[face], fidelity=1.0, min_size=32)
    assert report.restored == 1 and report.skipped == 0 and report.notices == []
    assert np.abs(out - rgb).max() > 0.1
    same, report = enhance_faces(rgb, brighten_and_texture, faces=[face], fidelity=1.0, min_size=61)
    assert np.array_equal(same, rgb)
    assert report.restored == 0 and report.faces[0].status == "too small"
    assert "smaller than the minimum size 61" in report.notices[0]


def test_enhance_faces_onto_an_upscaled_background():
    rgb, points = _face_on_canvas()
    face = _fake_face(points, 60)
    big = cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    out0, _ = enhance_faces(rgb, brighten_and_texture, upscaled_background=big, faces=[face], fidelity=0.0)
    assert np.array_equal(out0, big)
    out1, report = enhance_faces(rgb, brighten_and_texture, upscaled_background=big, faces=[face], fidelity=1.0)
    assert out1.shape == big.shape and report.restored == 1
    changed = np.abs(out1 - big).max(axis=2) > 0.02
    ys, xs = np.nonzero(changed)
    # The change sits on the face: around the landmarks' centre, scaled by 2.
    centre = (points.mean(axis=0) + 0.5) * 2 - 0.5
    assert abs(xs.mean() - centre[0]) < 12 and abs(ys.mean() - centre[1]) < 25
    with pytest.raises(OptionError, match="scaled evenly"):
        enhance_faces(rgb, brighten_and_texture, upscaled_background=big[:, :300].copy(), faces=[face])


def test_enhance_faces_checks_the_restorer_output():
    rgb, points = _face_on_canvas()
    face = _fake_face(points, 60)
    with pytest.raises(ModelError, match="shape"):
        enhance_faces(rgb, lambda crop: crop[:256], faces=[face])
    with pytest.raises(ModelError, match="non-finite"):
        enhance_faces(rgb, lambda crop: crop * np.nan, faces=[face])


def test_face_options_are_validated():
    with pytest.raises(OptionError, match="detector"):
        FaceOptions(detector="retina")
    with pytest.raises(OptionError, match="fidelity"):
        FaceOptions(fidelity=-0.1)
    with pytest.raises(OptionError, match="minimum face size"):
        FaceOptions(min_size=-1)


def test_no_face_passes_through_unchanged_with_a_notice():
    pytest.importorskip("dlib")
    rgb = smooth_test_image(96, 128, seed=2)
    out, report = enhance_faces(rgb, brighten_and_texture, fidelity=1.0)
    assert np.array_equal(out, rgb)
    assert report.faces == [] and report.notices == ["no face found; the image is returned unchanged"]


# --------------------------------------------------------------------------------------------- real faces

WHOLE = [
    "CodeFormer_inputs/whole_imgs/02.png",
    "CodeFormer_inputs/whole_imgs/03.jpg",
    "CodeFormer_inputs/whole_imgs/06.png",
    "GFPGAN_inputs/whole_imgs/Blake_Lively.jpg",
    "VQFR_inputs/whole_imgs/example.jpg",
]
# Faces per image found by dlib's HOG detector with the defaults (checked by eye: all are real faces).
WHOLE_FACES = {"02.png": 4, "03.jpg": 1, "06.png": 2, "Blake_Lively.jpg": 2, "example.jpg": 3}


def _read(path: Path) -> np.ndarray:
    from acutance.io import read_image

    return read_image(path).rgb


def eye_errors(rgb: np.ndarray, faces) -> list[float]:
    """Per face: the larger distance (512-crop px) between a re-detected eye centre on the aligned crop and
    the template's."""
    from acutance.faces.detect import detect_faces

    errors = []
    for face in faces:
        crop, _ = align_face(rgb, face.landmarks5)
        again = detect_faces(crop, upsample=0)
        assert again, "no face re-detected on the aligned crop"
        errors.append(float(np.linalg.norm(again[0].landmarks5[:2] - FFHQ_TEMPLATE_512[:2], axis=1).max()))
    return errors


@pytest.mark.slow
def test_real_faces_found_and_eyes_on_the_template(shared_data):
    """Acceptance 1: faces found in the whole images; eyes within 3 px of the template at 512."""
    pytest.importorskip("dlib")
    from acutance.faces.detect import detect_faces

    all_errors = []
    for name in WHOLE:
        rgb = _read(shared_data / "faces" / name)
        faces = detect_faces(rgb)
        assert len(faces) == WHOLE_FACES[Path(name).name], name
        for face in faces:
            assert face.landmarks5.shape == (5, 2) and face.landmarks68.shape == (68, 2)
            x0, y0, x1, y1 = face.box
            assert x0 <= face.landmarks5[:, 0].min() and face.landmarks5[:, 0].max() <= x1
        all_errors += eye_errors(rgb, faces)
    assert max(all_errors) < 3.0, all_errors
    assert np.mean(all_errors) < 1.5, all_errors


@pytest.mark.slow
def test_real_face_paste_has_no_seam(shared_data):
    """Acceptance 3 (real face): the paste adds no more gradient energy along its boundary than inside."""
    pytest.importorskip("dlib")
    from acutance.faces.detect import detect_faces

    rgb = _read(shared_data / "faces" / "GFPGAN_inputs/whole_imgs/Blake_Lively.jpg")
    for face in detect_faces(rgb):
        crop, affine = align_face(rgb, face.landmarks5)
        out, alpha = paste_back(rgb, brighten_and_texture(crop), affine, fidelity=1.0, return_alpha=True)
        assert _diff_seam_ratio(rgb, out, alpha) < 1.0


def _lfw_face(shared_data: Path) -> np.ndarray:
    folder = sorted(p for p in (shared_data / "faces" / "lfw").iterdir() if p.is_dir())[0]
    return _read(sorted(folder.iterdir())[0])


@pytest.mark.slow
def test_tiny_face_is_skipped(shared_data):
    """Acceptance 6: a face below the minimum size is found but left alone, with a notice."""
    pytest.importorskip("dlib")
    face = _lfw_face(shared_data)
    small = cv2.resize(face, (110, 110), interpolation=cv2.INTER_AREA)
    canvas = np.full((160, 200, 3), 0.5, dtype=np.float32)
    canvas[25:135, 45:155] = small
    out, report = enhance_faces(canvas, brighten_and_texture, fidelity=1.0, min_size=80)
    assert np.array_equal(out, canvas)
    assert [f.status for f in report.faces] == ["too small"]
    assert report.faces[0].size < 80 and "minimum size 80" in report.notices[0]
    out, report = enhance_faces(canvas, brighten_and_texture, fidelity=1.0, min_size=20)
    assert report.restored == 1 and np.abs(out - canvas).max() > 0.03


@pytest.mark.slow
def test_cnn_detector_finds_the_same_face_as_hog(shared_data):
    """dlib's MMOD CNN detector (the ``cnn`` option) finds the face HOG finds, with its landmarks on it."""
    pytest.importorskip("dlib")
    from acutance.faces.detect import detect_faces

    rgb = _read(shared_data / "faces" / "CodeFormer_inputs/whole_imgs/03.jpg")
    hog = detect_faces(rgb)
    cnn = detect_faces(rgb, detector="cnn", upsample=0)  # one image pass: the CNN is slow on a CPU
    assert len(cnn) == len(hog) == 1 and cnn[0].detector == "cnn"
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = hog[0].box, cnn[0].box
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    assert inter / union > 0.5
    # the landmarks come from the same 68-point predictor inside either box: eyes within a few pixels
    assert np.abs(cnn[0].landmarks5[:2] - hog[0].landmarks5[:2]).max() < 4.0
    # a higher threshold than the face's confidence drops it
    assert detect_faces(rgb, detector="cnn", upsample=0, threshold=cnn[0].score + 0.01) == []
