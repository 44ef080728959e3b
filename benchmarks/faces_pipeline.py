"""Face pipeline checks on the real whole-scene photos of ../shared/data/faces/*/whole_imgs (issue 9, 1 and 3).

1. Alignment: every detected face is aligned to the 512 FFHQ template; landmarks are detected again on the
   crop and the eye centres' distance to the template's is reported (px at 512), by face size.
2. Seams: a stand-in restorer that changes the face a lot (brighter, sharper, with grain) is pasted back;
   the ratio of the change's gradient energy on the blend boundary to that inside the face (> 1: the paste
   drew an edge), for our feathered mask + colour match, and for a hard square paste of the same crop
   (the baseline of the same run).
Usage: python benchmarks/faces_pipeline.py
"""

from __future__ import annotations

import json

import common
import cv2
import numpy as np

from acutance.faces import align
from acutance.faces.detect import detect_faces, landmarks_for_box
from acutance.faces.paste import boundary_gradient_energy, paste_back
from acutance.io import list_images, read_image


def stand_in_restorer(crop: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    sharp = crop + 1.5 * (crop - cv2.GaussianBlur(crop, (0, 0), 2))
    return np.clip(sharp * 1.15 + 0.06 + rng.normal(0, 0.03, crop.shape), 0, 1).astype(np.float32)


def seam_ratio(before: np.ndarray, after: np.ndarray, alpha: np.ndarray) -> float:
    boundary, interior = boundary_gradient_energy((after - before).astype(np.float32), alpha)
    return boundary / interior


def main() -> None:
    data = common.require_shared_data()
    import hashlib

    paths, seen = [], set()
    for folder in sorted((data / "faces").glob("*/whole_imgs")):
        for path in list_images(folder)[0]:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()  # the repositories share some photos
            if digest not in seen:
                seen.add(digest)
                paths.append(path)
    eyes, seams = [], []
    for path in paths:
        rgb = read_image(path).rgb
        for face in detect_faces(rgb):
            crop, affine = align.align_face(rgb, face.landmarks5)
            again = detect_faces(crop, upsample=0)
            if again:
                points = again[0].landmarks5
            else:  # re-detection can miss a heavily enlarged small face: landmarks in the mapped box
                box = align.apply_affine(affine, np.array([face.box[:2], face.box[2:]]))
                points, _ = landmarks_for_box(crop, (*box[0], *box[1]))
            error = np.linalg.norm(points[:2] - align.FFHQ_TEMPLATE_512[:2], axis=1).max()
            eyes.append({"image": str(path.relative_to(data)), "face_px": round(float(face.size)), "eye_error_px": round(float(error), 2)})
            restored = stand_in_restorer(crop)
            out, alpha = paste_back(rgb, restored, affine, fidelity=1.0, colour_match=True, return_alpha=True)
            warped, cover = align.inverse_warp(restored, affine, rgb.shape[:2])
            square = (cover > 0.5).astype(np.float32)
            hard = (rgb + square[..., None] * (warped - rgb)).astype(np.float32)
            seams.append({"image": eyes[-1]["image"], "feathered": round(seam_ratio(rgb, out, alpha), 3), "square": round(seam_ratio(rgb, hard, square), 3)})
    errors = np.array([e["eye_error_px"] for e in eyes])
    sizes = np.array([e["face_px"] for e in eyes])
    big = sizes >= 100
    summary = {
        "faces": len(eyes),
        "eye_error_mean_px": round(float(errors.mean()), 2),
        "eye_error_max_px": round(float(errors.max()), 2),
        "faces_ge_100px": int(big.sum()),
        "eye_error_mean_px_ge_100": round(float(errors[big].mean()), 2) if big.any() else None,
        "eye_error_max_px_ge_100": round(float(errors[big].max()), 2) if big.any() else None,
        "within_3px": f"{int((errors <= 3).sum())}/{len(errors)}",
        "seam_feathered_max": max(s["feathered"] for s in seams),
        "seam_square_median": float(np.median([s["square"] for s in seams])),
    }
    print(json.dumps(summary, indent=2))
    common.write_result("faces_pipeline", {"summary": summary, "eyes": eyes, "seams": seams})
    lines = [
        "# Face pipeline: alignment and seams on real photos",
        "",
        "`python benchmarks/faces_pipeline.py`; every face found by the HOG detector in `faces/*/whole_imgs`.",
        "",
        f"Eye centres after alignment vs the 512 template: mean {summary['eye_error_mean_px']} px, max "
        f"{summary['eye_error_max_px']} px over {summary['faces']} faces ({summary['within_3px']} within 3 px); faces of "
        f"100 px or more ({summary['faces_ge_100px']}): mean {summary['eye_error_mean_px_ge_100']}, max {summary['eye_error_max_px_ge_100']} px.",
        "",
        "Seams (gradient energy of the change on the blend boundary / inside the face; > 1 draws an edge): "
        f"feathered + colour match at most {summary['seam_feathered_max']}; a hard square paste of the same crop: "
        f"median {summary['seam_square_median']}.",
    ]
    (common.RESULTS / "faces_pipeline.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
