"""Pre-encoding sharpening core: features, cut detector, levels, chooser, the video stage (no encoder here)."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.errors import ModelError, OptionError
from acutance.preencode.chooser import WEIGHTS, Chooser, fit
from acutance.preencode.features import FEATURE_NAMES, band_energies, frame_features
from acutance.preencode.levels import AMOUNTS, LEVELS, check_level, sharpen
from acutance.preencode.scenes import MIN_SCENE_FRAMES, CutDetector
from acutance.preencode.video import AutoStage, FixedStage, build_stage, check_clip_frames
from acutance.video.stages import StageContext

CONTEXT = StageContext(96, 64, 25.0, "none")


def _image(seed: int, size=(64, 96)) -> np.ndarray:
    return smooth_test_image(*size, seed=seed)


def _pan(image: np.ndarray, frames: int, step: float = 0.7) -> list[np.ndarray]:
    h, w = image.shape[:2]
    out = []
    for t in range(frames):
        matrix = np.float32([[1, 0, -t * step], [0, 1, -t * step * 0.5]])
        out.append(cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
    return out


def _two_scenes() -> list[np.ndarray]:
    first = _pan(_image(1), 12)
    second = _pan(np.ascontiguousarray(_image(2)[::-1, ::-1] * 0.6 + 0.3), 12)  # other content, brighter
    return first + second


def test_features_rank_a_sharp_image_above_its_blur():
    sharp = _image(0, (128, 128))
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    a, b = frame_features(sharp), frame_features(blurred)
    assert a.shape == (len(FEATURE_NAMES),)
    names = dict(zip(FEATURE_NAMES, zip(a, b)))
    for name in ("log_lap_var", "log_si", "dct_high", "log_ac"):
        assert names[name][0] > names[name][1], name
    mid, high, _ = band_energies(np.zeros((32, 32), np.float32))
    assert (mid, high) == (0.0, 0.0)  # flat: no AC energy, no division by zero
    assert 0 <= a[2] + a[3] <= 1


def test_cut_detector_finds_the_cut_and_only_it():
    detector = CutDetector()
    cuts = [index for index, frame in enumerate(_two_scenes()) if detector(frame)]
    assert cuts == [0, 12]
    detector = CutDetector()
    assert [i for i, f in enumerate(_pan(_image(3), 30, step=2.0)) if detector(f)] == [0]  # a pan is no cut


def test_cut_detector_keeps_scenes_at_least_min_frames_long():
    a, b = _image(1), np.ascontiguousarray(_image(2)[::-1] * 0.5 + 0.4)
    flashes = [a if (i // 3) % 2 == 0 else b for i in range(30)]  # content flips every 3 frames
    detector = CutDetector()
    cuts = [i for i, f in enumerate(flashes) if detector(f)]
    assert cuts[0] == 0 and all(later - earlier >= MIN_SCENE_FRAMES for earlier, later in zip(cuts, cuts[1:]))


def test_levels_increase_sharpness_and_level_0_is_identity():
    image = _image(4, (96, 96))
    assert sharpen(image, 0) is image
    energy = [float(cv2.Laplacian(sharpen(image, level).mean(axis=2), cv2.CV_32F).var()) for level in LEVELS]
    assert all(b > a for a, b in zip(energy, energy[1:]))
    assert len(LEVELS) == 6 and AMOUNTS[0] == 0


@pytest.mark.parametrize("bad", [6, -1, "x", 1.5, True, None])
def test_check_level_refuses_with_one_line(bad):
    with pytest.raises(OptionError, match=r"'auto' or a level 0\.\.5") as error:
        check_level(bad)
    assert "\n" not in str(error.value)


def test_chooser_fit_predicts_the_level_each_kind_of_clip_wants(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, len(FEATURE_NAMES)))
    # soft clips (low first feature) gain from strong sharpening, busy ones lose
    gain = -3.0 * np.clip(-x[:, :1], 0, None)
    y = np.hstack([np.zeros((40, 1)), gain * np.array([[0.3, 0.6, 0.8, 1.0, 1.2]]) + np.clip(x[:, :1], 0, None)])
    chooser = fit(x, y, names=["a", "b"], alpha=0.1)
    soft, busy = np.array([-2.0, 0, 0, 0, 0]), np.array([2.0, 0, 0, 0, 0])
    assert chooser.choose(soft) == 5 and chooser.choose(busy) == 0
    assert chooser.predict(busy)[0] == 0.0  # the anchor level is exactly 0
    path = chooser.save(tmp_path / "c.npz")
    again = Chooser.load(path)
    assert again.fitted_on == ("a", "b") and np.allclose(again.predict(soft), chooser.predict(soft))


def test_chooser_load_refuses_other_features_and_broken_files(tmp_path):
    from acutance.models.weights import write_model_npz
    from acutance.preencode.chooser import FORMAT

    path = tmp_path / "old.npz"
    arrays = {"mean": np.zeros(1), "scale": np.ones(1), "coef": np.zeros((6, 2)), "low": np.zeros(1), "high": np.ones(1)}
    write_model_npz(path, {"format": FORMAT, "features": ["lap"], "fitted_on": []}, arrays)
    with pytest.raises(ModelError, match="fitted on features"):
        Chooser.load(path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="junk.npz"):
        Chooser.load(tmp_path / "junk.npz")
    other = tmp_path / "other.npz"
    write_model_npz(other, {"format": "acutance-lut-1"}, {"x": np.zeros(1)})
    with pytest.raises(ModelError, match="acutance-pre-encode-1"):
        Chooser.load(other)


def test_shipped_chooser_is_fitted_on_named_training_clips_only():
    chooser = Chooser.load(WEIGHTS)
    assert len(chooser.fitted_on) >= 5
    assert "city" not in chooser.fitted_on and "cuts" not in chooser.fitted_on  # Vid4 is evaluation-only
    assert chooser.coef.shape == (len(LEVELS), len(FEATURE_NAMES) + 1)
    assert 0 <= chooser.choose(frame_features(_image(5))) < len(LEVELS)


def test_build_stage_checks_its_parameters():
    assert isinstance(build_stage({"level": 3}, CONTEXT), FixedStage)
    assert isinstance(build_stage({"level": "2"}, CONTEXT), FixedStage)
    assert isinstance(build_stage({"level": "auto"}, CONTEXT), AutoStage)
    with pytest.raises(OptionError, match="level 0..5"):
        build_stage({"level": 7}, CONTEXT)
    with pytest.raises(OptionError, match="not strength"):
        build_stage({"level": 1, "strength": 2}, CONTEXT)
    with pytest.raises(OptionError, match="at least 8 frames for scene analysis, the clip has 3"):
        check_clip_frames(3)
    check_clip_frames(None)  # unknown length: let through
    check_clip_frames(MIN_SCENE_FRAMES)


def _scripted_chooser() -> Chooser:
    """A chooser fitted to pick level 1 on the first scene's first frame and level 4 on the second's."""
    x = np.array([frame_features(f) for f in (_two_scenes()[0], _two_scenes()[12])])
    y = np.array([[0, -5, -1, 0, 1, 2], [0, 1, 0, 0, -5, 0]], dtype=float)
    return fit(np.vstack([x, x]), np.vstack([y, y]), alpha=1e-6)


def test_auto_stage_picks_per_scene_and_a_resumed_run_gives_the_same_frames():
    frames = _two_scenes()
    chooser = _scripted_chooser()
    whole = AutoStage(chooser)
    out_whole = [whole(i, f, f) for i, f in enumerate(frames)]
    assert whole.scenes == [(0, 1), (12, 4)]
    resumed = AutoStage(chooser)
    for i in range(16):  # a resume after a 16-frame segment: the finished frames are only observed
        resumed.observe(i, frames[i])
    out_resumed = [resumed(i, frames[i], frames[i]) for i in range(16, len(frames))]
    assert all(np.array_equal(a, b) for a, b in zip(out_whole[16:], out_resumed))
    assert np.array_equal(out_whole[3], sharpen(frames[3], 1)) and np.array_equal(out_whole[20], sharpen(frames[20], 4))


def test_bjontegaard_library_agrees_with_a_hand_computed_bd_rate():
    bjontegaard = pytest.importorskip("bjontegaard", reason="the benchmark extra (pip install bjontegaard)")
    rate_a = np.array([100.0, 180.0, 320.0, 600.0, 1100.0])
    quality_a = np.array([70.0, 78.0, 85.0, 90.0, 94.0])
    rate_b = rate_a * 0.9
    quality_b = quality_a + np.array([0.2, 0.1, 0.3, 0.2, 0.1])

    def hand(ra, qa, rb, qb):  # VCEG-M33: cubic fit of log10 rate over quality, mean gap on the overlap
        pa, pb = np.polyfit(qa, np.log10(ra), 3), np.polyfit(qb, np.log10(rb), 3)
        lo, hi = max(qa.min(), qb.min()), min(qa.max(), qb.max())
        ia, ib = np.polyint(pa), np.polyint(pb)
        gap = (np.polyval(ib, hi) - np.polyval(ib, lo) - np.polyval(ia, hi) + np.polyval(ia, lo)) / (hi - lo)
        return (10**gap - 1) * 100

    expected = hand(rate_a, quality_a, rate_b, quality_b)
    got = bjontegaard.bd_rate(rate_a, quality_a, rate_b, quality_b, method="cubic")
    assert expected < -10  # 10% fewer bits and a little better
    assert got == pytest.approx(expected, abs=1e-6)


def test_bjontegaard_pchip_agrees_with_a_hand_computed_bd_rate():
    """The benchmark's method: PCHIP interpolation of log-rate over quality (JVET CTC), saturating curves too."""
    bjontegaard = pytest.importorskip("bjontegaard", reason="the benchmark extra (pip install bjontegaard)")
    interpolate = pytest.importorskip("scipy.interpolate")
    rate_a = np.array([66.0, 88.0, 125.0, 187.0, 294.0])
    quality_a = np.array([78.7, 89.35, 97.23, 99.77, 99.83])  # VMAF NEG of a real clip: flat near 100
    rate_b = np.array([71.0, 96.0, 138.0, 211.0, 341.0])
    quality_b = np.array([81.84, 93.14, 99.44, 99.81, 99.85])

    def area(rate, quality, lo, hi):
        return interpolate.PchipInterpolator(quality, np.log10(rate)).integrate(lo, hi)

    lo, hi = max(quality_a.min(), quality_b.min()), min(quality_a.max(), quality_b.max())
    gap = (area(rate_b, quality_b, lo, hi) - area(rate_a, quality_a, lo, hi)) / (hi - lo)
    expected = (10**gap - 1) * 100
    got = bjontegaard.bd_rate(rate_a, quality_a, rate_b, quality_b, method="pchip", min_overlap=0)
    assert got == pytest.approx(expected, abs=1e-6)
    assert -15 < got < 0  # sharpened: a saving, and a sane one (the single cubic fit gives hundreds of %)
