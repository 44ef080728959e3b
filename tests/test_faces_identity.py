"""Identity similarity: dlib embeddings, cosine, clear errors without a face."""

from __future__ import annotations

import numpy as np
import pytest

from acutance.errors import AcutanceError, ModelError, OptionError

pytest.importorskip("dlib", reason="the 'faces' extra (dlib-bin) is not installed")
from conftest import smooth_test_image

from acutance.faces import identity


def _lfw_face(shared_data, person: str, number: int) -> np.ndarray:
    from acutance.io import read_image

    path = shared_data / "faces" / "lfw" / person / f"{person}_{number:04d}.jpg"
    if not path.is_file():
        pytest.skip(f"LFW image {path} not found")
    return read_image(path).rgb


def test_cosine_similarity_math():
    a = np.array([1.0, 0.0, 0.0])
    assert identity.cosine_similarity(a, a) == pytest.approx(1.0)
    assert identity.cosine_similarity(a, np.array([0.0, 2.0, 0.0])) == pytest.approx(0.0)
    assert identity.cosine_similarity(a, -3 * a) == pytest.approx(-1.0)
    with pytest.raises(OptionError, match="differ in length"):
        identity.cosine_similarity(a, np.ones(4))
    with pytest.raises(OptionError, match="zero embedding"):
        identity.cosine_similarity(a, np.zeros(3))


def test_no_face_is_a_clear_error():
    image = smooth_test_image(96, 128)
    with pytest.raises(ModelError, match=r"no face found in the image \(128x96\)"):
        identity.face_embedding(image)
    with pytest.raises(ModelError, match="first image"):
        identity.identity_similarity(image, image)
    assert issubclass(ModelError, AcutanceError)


def test_bad_inputs():
    with pytest.raises(OptionError, match="float32"):
        identity.face_embedding(np.zeros((64, 64, 3), np.uint8))
    image = smooth_test_image(64, 64)
    with pytest.raises(OptionError, match="4 numbers"):
        identity.face_embedding(image, face=(1, 2, 3))
    with pytest.raises(OptionError, match="smaller than 8 px"):
        identity.face_embedding(image, face=(60, 60, 200, 200))


def test_given_box_gives_an_embedding_without_detection():
    # A box is trusted as given (no detector): the embedding exists and is deterministic.
    image = smooth_test_image(120, 120, seed=3)
    e1 = identity.face_embedding(image, face=(20, 20, 100, 100))
    e2 = identity.face_embedding(image, face=(20, 20, 100, 100))
    assert e1.shape == (identity.EMBEDDING_DIM,) and e1.dtype == np.float32
    np.testing.assert_array_equal(e1, e2)


@pytest.mark.slow
def test_identity_similarity_on_lfw(shared_data):
    a = _lfw_face(shared_data, "Aaron_Peirsol", 1)
    same_person = _lfw_face(shared_data, "Aaron_Peirsol", 2)
    other = _lfw_face(shared_data, "Abdullah_Gul", 1)
    flipped = np.ascontiguousarray(a[:, ::-1])
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 0.03, a.shape), 0, 1).astype(np.float32)

    assert identity.identity_similarity(a, a) == pytest.approx(1.0, abs=1e-6)
    s_flip = identity.identity_similarity(a, flipped)
    s_noise = identity.identity_similarity(a, noisy)
    s_same = identity.identity_similarity(a, same_person)
    s_other = identity.identity_similarity(a, other)
    assert s_flip > 0.97 and s_noise > 0.97
    assert s_same > 0.92
    # dlib's cosine scale is compressed: strangers still score ~0.8, but clearly below the same person.
    assert s_other < s_same - 0.08
    assert s_other < 0.9


@pytest.mark.slow
def test_detected_face_geometry(shared_data):
    a = _lfw_face(shared_data, "Aaron_Peirsol", 1)
    face = identity.find_face(a)
    left, top, right, bottom = face.box
    # LFW faces are centred in the 250x250 frame.
    assert 60 < (left + right) / 2 < 190 and 60 < (top + bottom) / 2 < 190
    assert face.landmarks.shape == (5, 2)
    assert np.all((face.landmarks >= 0) & (face.landmarks < 250))
    chip = identity.face_chip(a, face)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.float32
