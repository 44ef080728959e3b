"""Training of our face restorer (``face-restore``) on aligned LFW faces; torch is needed here only.

Recipe (see docs/face_restorer.md):
- data: every LFW identity except the held-out ones (the last ``HELD_OUT`` identities in sorted order, the
  same rule as the face-quality model), each image aligned by its 5 landmarks (dlib 68-point model: eye
  centres, nose tip, mouth corners; LFW is centred, so no detector) to the 512 template scaled to the native size (128: LFW's inter-ocular
  distance is ~40 px, the 128 template's is 31.5 px, so the crops are real detail, not an upsampled blur);
- degradations, drawn per sample: Gaussian blur (sigma 0.2..3, sometimes anisotropic), downscale by
  2..8 (area, bilinear or bicubic), Gaussian noise 0..12/255 (half the time), JPEG quality 30..95, then
  bicubic back to the native size;
- a 7x7 linear branch fitted first by least squares on 256 degraded crops (the U-Net's last layer starts at
  zero, so training starts from the best linear restorer: useful when the CPU is scarce);
- loss: L1 plus 0.5 x L1 of the image gradients (keeps edges from washing out); Adam with cosine decay
  over the run's progress (steps, or time when a time limit is set, whichever is further);
- checkpoints every ``checkpoint_every`` steps (``acutance.train``), so a run can stop at any time and resume
  to the same weights.

Identity fine-tune (``--init-onnx``): starts from an exported FaceUNet and trains on whole 128 crops with
L1 + 0.5 x gradient L1 + ``--identity-weight`` x (1 - cosine of dlib's face descriptors of the restored and
the clean crop), through a torch copy of dlib's recognition network (``acutance.faces.identity_loss``); the
last ``--validation-identities`` training identities are kept out to validate on.

Run: ``nice -n 10 acutance train face --lfw ../shared/data/faces/lfw -o face-restore.onnx`` (add
``--init-onnx face-restore.onnx --identity-weight 1.5`` for the identity fine-tune); the loop is
``acutance.train.loop``, and a rerun of the same command resumes from the run folder (``OUTPUT.run``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from acutance.errors import ModelError, OptionError

HELD_OUT = 60
NATIVE_SIZE = 128
# The 5-point template of the 512 aligned face (left eye, right eye, nose tip, left and right mouth
# corners, image coordinates), as used by GFPGAN/facexlib for FFHQ-style crops.
TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.19360],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float32,
)


# ----------------------------------------------------------------------------------------------- data
def lfw_identities(lfw_root: Path) -> list[str]:
    """Identity folder names in sorted order."""
    names = sorted(p.name for p in Path(lfw_root).iterdir() if p.is_dir())
    if not names:
        raise OptionError(f"no identity folders found in {lfw_root}")
    return names


def held_out_identities(names: list[str], count: int = HELD_OUT) -> list[str]:
    """The held-out identities: the last ``count`` in sorted order (shared with the face-quality model)."""
    return sorted(names)[-count:]


def template(size: int) -> np.ndarray:
    """The 5-point template for a ``size`` x ``size`` aligned crop."""
    return TEMPLATE_512 * np.float32(size / 512.0)


def align(rgb: np.ndarray, landmarks5: np.ndarray, size: int) -> np.ndarray:
    """Warp ``rgb`` so that its 5 landmarks land on the template (similarity transform, least squares).

    The warp is done at twice the size and area-averaged down, so shrinking faces are antialiased.
    """
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(landmarks5, np.float32), template(2 * size), method=cv2.LMEDS
    )
    if matrix is None:
        raise OptionError("could not fit a similarity transform to the landmarks")
    big = cv2.warpAffine(rgb, matrix, (2 * size, 2 * size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    return np.clip(cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA), 0.0, 1.0)


class _DlibLandmarks:
    """dlib's 68-point predictor -> 5 points, started from the HOG detector's box (no upsampling: LFW faces
    are ~110 px; the face nearest the centre) or, with ``detect=False`` or no detection, from a centred box
    (LFW is cut around face detections) and run again from the box of its own landmarks. The detector
    costs 10x the rest, so the training identities skip it; the held-out ones use it."""

    def __init__(self) -> None:
        import importlib.util

        import dlib

        models = Path(importlib.util.find_spec("face_recognition_models").origin).parent / "models"
        self.predictor = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
        self.detector = dlib.get_frontal_face_detector()
        self.dlib = dlib

    def _points(self, u8: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        rect = self.dlib.rectangle(*(int(round(v)) for v in box))
        return np.array([[p.x, p.y] for p in self.predictor(u8, rect).parts()], dtype=np.float32)

    def __call__(self, rgb: np.ndarray, detect: bool = True) -> np.ndarray:
        u8 = np.ascontiguousarray(np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8))
        h, w = u8.shape[:2]
        rects = list(self.detector(u8, 0)) if detect else []
        if rects:
            r = min(rects, key=lambda r: (r.center().x - w / 2) ** 2 + (r.center().y - h / 2) ** 2)
            pts = self._points(u8, (r.left(), r.top(), r.right(), r.bottom()))
        else:
            pts = self._points(u8, (w * 0.27, h * 0.32, w * 0.7, h * 0.75))
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            pts = self._points(u8, (x0, y0, x1, y1))
        return np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]]).astype(np.float32)


def prepare_crops(
    lfw_root: Path, cache: Path, size: int = NATIVE_SIZE, per_identity: int = 0, per_held_out: int = 0
) -> dict[str, np.ndarray]:
    """Aligned ``size`` crops of LFW images (uint8), cached in ``cache`` (an npz outside the repo).

    per_identity / per_held_out: at most this many images (the first in sorted order) of each training /
    held-out identity; 0 for all.

    Returns ``crops`` (N x size x size x 3 uint8), ``identity`` (N,) names, ``files`` (N,) file names.
    """
    cache = Path(cache)
    if cache.is_file():
        with np.load(cache) as data:
            return {k: data[k] for k in data.files}
    from tqdm import tqdm

    from acutance.io import read_image

    finder = _DlibLandmarks()
    crops, ids, files = [], [], []
    names = lfw_identities(lfw_root)
    held = set(held_out_identities(names))
    for name in tqdm(names, desc="aligning LFW"):
        paths = sorted((Path(lfw_root) / name).glob("*.jpg"))
        limit = per_held_out if name in held else per_identity
        for path in paths[:limit] if limit else paths:
            rgb = read_image(path).rgb
            crop = align(rgb, finder(rgb, detect=name in held), size)
            crops.append(np.clip(np.rint(crop * 255), 0, 255).astype(np.uint8))
            ids.append(name)
            files.append(path.name)
    out = {"crops": np.stack(crops), "identity": np.array(ids), "files": np.array(files)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(cache)
    return out


# ------------------------------------------------------------------------------------- degradations
def _gaussian_blur(image: np.ndarray, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    from acutance.degrade.kernels import filter_image, gaussian_kernel

    size = 2 * int(math.ceil(3 * max(sigma_x, sigma_y))) + 1
    return filter_image(image, gaussian_kernel(max(size, 3), sigma_x, sigma_y, theta))


def degrade_face(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random face degradation of an HxWx3 float32 crop; the result has the same size."""
    from acutance.degrade.jpeg import jpeg_compress
    from acutance.degrade.noise import add_gaussian_noise

    h, w = clean.shape[:2]
    image = clean
    if rng.random() < 0.9:
        sigma = rng.uniform(0.2, 3.0)
        sigma_y = sigma if rng.random() < 0.7 else rng.uniform(0.2, 3.0)
        image = _gaussian_blur(image, sigma, sigma_y, rng.uniform(0, math.pi))
    factor = rng.uniform(2.0, 8.0) if rng.random() < 0.9 else 1.0
    small = (max(1, round(h / factor)), max(1, round(w / factor)))
    mode = [cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC][rng.integers(3)]
    image = cv2.resize(image, (small[1], small[0]), interpolation=mode)
    if rng.random() < 0.5:
        image = add_gaussian_noise(image, rng.uniform(0.0, 12.0), rng, gray=rng.random() < 0.3)
    if rng.random() < 0.9:
        image = jpeg_compress(np.clip(image, 0, 1), int(rng.integers(30, 96)))
    return np.clip(cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0).astype(np.float32)


BENCHMARK_DEGRADATION = {"blur_sigma": 1.5, "downscale": 4, "jpeg_quality": 40}


def benchmark_degrade(clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fixed held-out degradation: Gaussian blur sigma 1.5 (13x13 kernel, reflect border), bicubic
    downscale x4 (OpenCV, no antialiasing beyond the blur), 8-bit JPEG quality 40, bicubic back up.

    Returns ``(low_res, bicubic)``: the small JPEG'd image and its bicubic upscale to the input size.
    """
    from acutance.degrade.jpeg import jpeg_compress

    h, w = clean.shape[:2]
    d = BENCHMARK_DEGRADATION
    image = _gaussian_blur(clean, d["blur_sigma"], d["blur_sigma"], 0.0)
    small = cv2.resize(image, (w // d["downscale"], h // d["downscale"]), interpolation=cv2.INTER_CUBIC)
    small = jpeg_compress(np.clip(small, 0, 1), d["jpeg_quality"])
    up = np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0).astype(np.float32)
    return small, up


# ----------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainOptions:
    """Options of a training run (validated)."""

    size: int = NATIVE_SIZE
    base: int = 12
    levels: int = 3
    linear_kernel: int = 7
    linear_images: int = 256  # crops used for the closed-form fit of the linear branch
    patch: int = 64
    batch: int = 8
    steps: int = 4000
    lr: float = 1e-3
    grad_weight: float = 0.5
    seed: int = 0
    checkpoint_every: int = 25
    time_limit_s: float = 0.0  # 0: no limit; else stop (and checkpoint) after this many seconds

    def __post_init__(self) -> None:
        if self.patch % 8 or self.patch > self.size or self.size % 8:
            raise OptionError(f"patch and size must be multiples of 8 with patch <= size, got {self.patch}, {self.size}")
        if self.steps < 1 or self.batch < 1:
            raise OptionError("steps and batch must be positive")


def _batch(crops: np.ndarray, opts: TrainOptions, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lq, hq = [], []
    for idx in rng.integers(0, len(crops), opts.batch):
        clean = crops[idx].astype(np.float32) / np.float32(255.0)
        if rng.random() < 0.5:
            clean = clean[:, ::-1]
        clean = np.ascontiguousarray(clean)
        bad = degrade_face(clean, rng)
        y, x = rng.integers(0, opts.size - opts.patch + 1, 2)
        lq.append(bad[y : y + opts.patch, x : x + opts.patch])
        hq.append(clean[y : y + opts.patch, x : x + opts.patch])
    to_nchw = lambda a: np.ascontiguousarray(np.stack(a).transpose(0, 3, 1, 2))  # noqa: E731
    return to_nchw(lq), to_nchw(hq)


def fit_linear(crops: np.ndarray, opts: TrainOptions, rng: np.random.Generator, samples: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``k x k`` RGB->RGB filter (and bias) predicting ``clean - degraded`` from the degraded
    crop, over ``opts.linear_images`` randomly degraded crops (``samples`` pixels each, away from the border).

    Returns ``(weight 3 x 3 x k x k, bias 3)`` in torch's Conv2d layout (cross-correlation).
    """
    k, half = opts.linear_kernel, opts.linear_kernel // 2
    feats, targets = [], []
    for idx in rng.integers(0, len(crops), opts.linear_images):
        clean = crops[idx].astype(np.float32) / np.float32(255.0)
        bad = degrade_face(clean, rng)
        windows = np.lib.stride_tricks.sliding_window_view(bad, (k, k), axis=(0, 1))  # H' x W' x 3 x k x k
        ys = rng.integers(0, windows.shape[0], samples)
        xs = rng.integers(0, windows.shape[1], samples)
        feats.append(windows[ys, xs].reshape(samples, -1))
        targets.append((clean - bad)[ys + half, xs + half])
    x = np.concatenate(feats).astype(np.float64)
    x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    y = np.concatenate(targets).astype(np.float64)
    gram = x.T @ x
    gram += 1e-3 * np.trace(gram) / len(gram) * np.eye(len(gram))  # a little ridge: well-posed
    w = np.linalg.solve(gram, x.T @ y)  # (3 k k + 1) x 3
    weight = w[:-1].T.reshape(3, 3, k, k).astype(np.float32)
    return weight, w[-1].astype(np.float32)


def _loss(out, target, grad_weight: float):
    import torch

    loss = torch.mean(torch.abs(out - target))
    if grad_weight:
        for dim in (2, 3):
            loss = loss + grad_weight * torch.mean(torch.abs(torch.diff(out, dim=dim) - torch.diff(target, dim=dim)))
    return loss



def _fit(model, optimiser, step_losses, opts, rng, floor: float, checkpoint, log_path, config: dict, log,
         validate=None, stop_after=None):
    """Both face trainers on ``acutance.train.loop``: Adam, cosine decay to ``floor`` x lr over the steps (or
    the time limit), a checkpoint every ``checkpoint_every`` steps."""
    from acutance.train.loop import LoopOptions, fit

    options = LoopOptions(steps=opts.steps, lr=opts.lr, lr_min=floor * opts.lr, checkpoint_every=opts.checkpoint_every,
                          log_every=opts.checkpoint_every, time_limit_s=opts.time_limit_s,
                          val_every=getattr(opts, "validate_every", 0))  # fmt: skip
    return fit(model, optimiser, step_losses, options, rng=rng, checkpoint=checkpoint, log_path=log_path,
               config=config, validate=validate, name="face", progress=False, stop_after=stop_after, log=log)


def _loop_config(opts) -> dict:
    """What a resumed run must share with its checkpoint: the length, the time limit and the identity weight may
    change (the shipped restorer's identity weight was raised twice during its run)."""
    free = ("steps", "time_limit_s", "checkpoint_every", "identity_weight")
    return {k: v for k, v in asdict(opts).items() if k not in free}


def train(crops: np.ndarray, opts: TrainOptions, checkpoint: Path | None = None, log=print,
          log_path: Path | None = None, stop_after: int | None = None):
    """Train a FaceUNet on uint8 aligned crops (N x size x size x 3); resumes from ``checkpoint`` when it
    exists and saves it every ``checkpoint_every`` steps. Returns ``(model, info)``."""
    import torch

    from acutance.faces.arch.unet import FaceUNet

    if crops.ndim != 4 or crops.shape[1:] != (opts.size, opts.size, 3):
        raise OptionError(f"crops must be N x {opts.size} x {opts.size} x 3, got {crops.shape}")
    torch.manual_seed(opts.seed)
    model = FaceUNet(opts.base, opts.levels, opts.linear_kernel)
    optimiser = torch.optim.Adam(model.parameters(), lr=opts.lr, betas=(0.9, 0.99))
    rng = np.random.default_rng(opts.seed)
    if opts.linear_kernel and not (checkpoint is not None and Path(checkpoint).is_file()):
        weight, bias = fit_linear(crops, opts, rng)
        with torch.no_grad():
            model.linear.weight.copy_(torch.from_numpy(weight))
            model.linear.bias.copy_(torch.from_numpy(bias))
        log("fitted the linear branch by least squares")

    def step_losses(step: int) -> dict:
        lq, hq = _batch(crops, opts, rng)
        return {"loss": _loss(model(torch.from_numpy(lq)), torch.from_numpy(hq), opts.grad_weight)}

    cpu_start = time.process_time()
    result = _fit(model, optimiser, step_losses, opts, rng, 0.02, checkpoint, log_path, _loop_config(opts), log,
                  stop_after=stop_after)
    cpu = round(time.process_time() - cpu_start, 1)  # this session's CPU time (the machine is shared)
    history = [[r["step"], r["seconds"], r["loss"]] for r in result.history]
    return result.model, {"steps": result.step, "seconds": result.seconds, "cpu_seconds_last_session": cpu,
                          "history": history}


def export_onnx(model, path: Path, meta: dict, size: int = NATIVE_SIZE) -> None:
    """Export to ONNX (opset 17, dynamic batch/height/width) with ``meta`` as JSON in the metadata entry
    ``acutance``: the file is the model's config. Checks onnxruntime against torch (max |diff| < 1e-4)."""
    import io

    import onnx
    import onnxruntime as ort
    import torch

    model = model.eval()
    example = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        (example,),
        buffer,
        input_names=["input"],
        output_names=["output"],
        opset_version=17,
        dynamic_axes={"input": {0: "n", 2: "h", 3: "w"}, "output": {0: "n", 2: "h", 3: "w"}},
        dynamo=False,
    )
    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = "acutance", json.dumps(meta, sort_keys=True)
    data = proto.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = model(example).numpy()
    got = session.run(None, {"input": example.numpy()})[0]
    diff = float(np.abs(got - want).max())
    if diff >= 1e-4:
        raise ModelError(f"ONNX export differs from torch by {diff:.2e} (limit 1e-4)")
    from acutance.io.files import atomic_write_bytes

    atomic_write_bytes(Path(path), data, overwrite=True)


# --------------------------------------------------------------------- identity fine-tuning (dlib loss)
@dataclass(frozen=True)
class IdentityOptions:
    """Options of an identity fine-tune (see :func:`finetune_identity`)."""

    identity_weight: float = 0.1
    batch: int = 4
    steps: int = 1000
    lr: float = 2e-4
    grad_weight: float = 0.5
    seed: int = 1
    checkpoint_every: int = 25
    validate_every: int = 100
    time_limit_s: float = 0.0

    def __post_init__(self) -> None:
        if self.identity_weight < 0 or self.steps < 1 or self.batch < 1:
            raise OptionError("identity_weight must be >= 0, steps and batch positive")


def load_onnx_into(model, path: Path) -> None:
    """Copy an exported FaceUNet's ONNX initializers into the torch ``model`` (names and shapes must match)."""
    import torch

    from acutance.deep.runtime import read_initializers

    weights = read_initializers(Path(path))
    state = model.state_dict()
    if set(weights) != set(state) or any(weights[k].shape != tuple(state[k].shape) for k in state):
        raise ModelError(f"{path}: its weights do not match FaceUNet{model.hyper_parameters()}")
    model.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()})


def identity_targets(crops: np.ndarray, cache: Path | None = None, log=print) -> dict[str, np.ndarray]:
    """Per clean crop: the ``grid_sample`` transform of its dlib face chip (face geometry found on the clean
    crop, as the benchmark does) and dlib's descriptor of the clean crop (computed by dlib itself).

    Cached in ``cache`` (an npz outside the repo) together with a fingerprint of the crops."""
    from acutance.faces import identity
    from acutance.faces.identity_loss import chip_transform, face_geometry

    fingerprint = np.array([len(crops), int(crops[:, ::7, ::7].astype(np.int64).sum())])
    if cache is not None and Path(cache).is_file():
        with np.load(cache) as data:
            if np.array_equal(data["fingerprint"], fingerprint):
                return {k: data[k] for k in data.files}
    thetas, targets = [], []
    start = time.perf_counter()
    for i, crop8 in enumerate(crops):
        crop = crop8.astype(np.float32) / np.float32(255.0)
        face = face_geometry(crop)
        thetas.append(chip_transform(face.landmarks, face.box, crop.shape[0]))
        targets.append(identity.embedding_from_chip(identity.face_chip(crop, face)))
        if (i + 1) % 200 == 0:
            log(f"identity targets {i + 1}/{len(crops)}  {time.perf_counter() - start:.0f}s")
    out = {"theta": np.stack(thetas), "target": np.stack(targets), "fingerprint": fingerprint}
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(cache).with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(cache)
    return out


def _validate(model, net, crops, theta, target) -> dict[str, float]:
    """PSNR and dlib identity cosine (torch copy of dlib's network, chips from the float crops) of the model
    and of bicubic, under the benchmark's fixed degradation, on validation crops (training identities)."""
    import torch
    import torch.nn.functional as F

    from acutance.faces.identity_loss import extract_chips

    cleans = crops.astype(np.float32) / np.float32(255.0)
    bicubic = np.stack([benchmark_degrade(c)[1] for c in cleans])
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    with torch.no_grad():
        restored = model(to_t(bicubic)).clamp(0, 1)
        out = {}
        for key, images in (("bicubic", to_t(bicubic)), ("restored", restored)):
            q = torch.round(images * 255) / 255  # 8-bit, as the benchmark measures
            mse = ((q - to_t(cleans)) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
            emb = net(extract_chips(q, torch.from_numpy(theta)))
            cos = F.cosine_similarity(emb, torch.from_numpy(target), dim=1)
            out[key] = (float((10 * torch.log10(1 / mse)).mean()), cos)
    wins = int((out["restored"][1] > out["bicubic"][1]).sum())
    return {
        "psnr_bicubic": out["bicubic"][0], "psnr": out["restored"][0],
        "identity_bicubic": float(out["bicubic"][1].mean()), "identity": float(out["restored"][1].mean()),
        "identity_wins": wins,
    }


def finetune_identity(crops: np.ndarray, geometry: dict, opts: IdentityOptions, model, validation=None,
                      checkpoint: Path | None = None, log=print, log_path: Path | None = None,
                      stop_after: int | None = None):
    """Fine-tune ``model`` (a FaceUNet, e.g. the shipped one via :func:`load_onnx_into`) on whole crops with
    L1 + ``grad_weight`` x L1 of the gradients + ``identity_weight`` x (1 - cosine of dlib's descriptors of
    the restored crop and of the clean crop). Descriptors of the restored crop come from the torch copy of
    dlib's network (:mod:`acutance.faces.identity_loss`), so the gradient flows into the restorer.

    geometry: :func:`identity_targets` of ``crops``. validation: ``(crops, geometry)`` of crops never
    trained on, measured every ``validate_every`` steps with the benchmark's degradation.
    Returns ``(model, info)``; resumes from ``checkpoint`` when it exists.
    """
    import torch

    from acutance.faces.identity_loss import build_dlib_resnet, identity_loss

    net = build_dlib_resnet()
    for p in net.parameters():
        p.requires_grad_(False)
    torch.manual_seed(opts.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=opts.lr, betas=(0.9, 0.99))
    rng = np.random.default_rng(opts.seed)
    theta_all, target_all = torch.from_numpy(geometry["theta"]), torch.from_numpy(geometry["target"])
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731

    def step_losses(step: int) -> dict:
        idx = rng.integers(0, len(crops), opts.batch)
        clean = crops[idx].astype(np.float32) / np.float32(255.0)
        out = model(to_t(np.stack([degrade_face(c, rng) for c in clean])))
        terms = {"pixel": _loss(out, to_t(clean), opts.grad_weight)}
        if opts.identity_weight:
            ident = identity_loss(net, out.clamp(0, 1), theta_all[idx], target_all[idx])
            terms["identity"] = opts.identity_weight * ident
        return terms

    def validate(restorer) -> dict:
        result = _validate(restorer, net, validation[0], validation[1]["theta"], validation[1]["target"])
        log(f"  validation: PSNR {result['psnr']:.3f} (bicubic {result['psnr_bicubic']:.3f})  identity "
            f"{result['identity']:.4f} (bicubic {result['identity_bicubic']:.4f}, {result['identity_wins']}/"
            f"{len(validation[0])} higher)")  # fmt: skip
        return {"identity": result["identity"], **{k: round(v, 5) for k, v in result.items()}}

    checks = []
    if validation is not None and not (checkpoint is not None and Path(checkpoint).is_file()):
        model.eval()
        with torch.no_grad():
            checks.append({"step": 0, **validate(model)})
    result = _fit(model, optimiser, step_losses, opts, rng, 0.05, checkpoint, log_path, _loop_config(opts), log,
                  validate if validation is not None else None, stop_after)
    checks += [{k: v for k, v in r.items() if k not in ("seconds", "lr", "pixel", "finished")}
               for r in result.history if "psnr" in r]  # fmt: skip
    history = [[r["step"], r["seconds"], r["pixel"], r.get("identity", 0.0)] for r in result.history]
    return result.model, {"steps": result.step, "seconds": result.seconds, "history": history, "validation": checks}


def main(args, run: Path) -> int:
    """``acutance train face`` (``acutance.cli.train_cmd``): train or, with ``--init-onnx``, fine-tune; the
    checkpoint and log.jsonl are in the run folder ``run``."""
    import torch

    torch.set_num_threads(args.threads)
    data = prepare_crops(args.lfw, args.cache, per_identity=args.per_identity, per_held_out=args.per_held_out)
    names = lfw_identities(args.lfw)
    held = set(held_out_identities(names))
    keep = np.array([i not in held for i in data["identity"]])
    print(f"{len(data['crops'])} crops, {keep.sum()} for training ({len(names) - len(held)} identities)")
    if args.prepare_only:
        return 0
    if args.init_onnx is not None:
        return _main_identity(args, data, names, held, run)
    from acutance.train.loop import run_files

    checkpoint, log_path = run_files(run)
    opts = TrainOptions(steps=args.steps or TrainOptions.steps, time_limit_s=args.time_limit)
    model, info = train(data["crops"][keep], opts, checkpoint, log_path=log_path)
    meta = {
        "name": "face-restore",
        "arch": "FaceUNet",
        "hyper_parameters": model.hyper_parameters(),
        "native_size": opts.size,
        "template_512": TEMPLATE_512.tolist(),
        "training": {
            "data": f"LFW aligned {opts.size}, {len(names) - len(held)} identities ({int(keep.sum())} images: "
            f"the first {args.per_identity or 'all'} of each); "
            f"held out: the last {HELD_OUT} identities in sorted order",
            "options": asdict(opts),
            "steps": info["steps"],
            "seconds": info["seconds"],
            "cpu_seconds_last_session": info["cpu_seconds_last_session"],
            "history": info["history"],
        },
    }
    export_onnx(model, args.output, meta, opts.size)
    print(f"wrote {args.output}")
    return 0


def _main_identity(args, data: dict, names: list[str], held: set[str], run: Path) -> int:
    """``--init-onnx``: fine-tune an exported FaceUNet with the dlib identity loss and export it."""
    from acutance.faces.arch.unet import FaceUNet
    from acutance.faces.restorer import load_restorer

    base = load_restorer(args.init_onnx)
    model = FaceUNet(**base.meta["hyper_parameters"])
    load_onnx_into(model, args.init_onnx)
    train_names = [n for n in names if n not in held]
    val_names = set(train_names[-args.validation_identities:]) if args.validation_identities else set()
    ids = data["identity"]
    fit = np.array([i not in held and i not in val_names for i in ids])
    val = np.array([i in val_names for i in ids])
    print(f"identity fine-tune: {fit.sum()} crops ({len(train_names) - len(val_names)} identities), "
          f"validation {val.sum()} crops ({len(val_names)} identities)")
    geometry = identity_targets(data["crops"][fit | val], args.identity_cache)
    index = np.flatnonzero(fit | val)
    pick = lambda mask: {k: geometry[k][np.isin(index, np.flatnonzero(mask))] for k in ("theta", "target")}
    from acutance.train.loop import run_files

    checkpoint, log_path = run_files(run)
    opts = IdentityOptions(identity_weight=args.identity_weight, batch=args.batch, lr=args.lr,
                           steps=args.steps or TrainOptions.steps, time_limit_s=args.time_limit)
    validation = (data["crops"][val], pick(val)) if val.any() else None
    model, info = finetune_identity(data["crops"][fit], pick(fit), opts, model, validation, checkpoint,
                                    log_path=log_path)
    meta = dict(base.meta)
    meta["training"] = dict(base.meta.get("training", {}))
    meta["training"]["identity_finetune"] = {
        "init": Path(args.init_onnx).name,
        "data": f"LFW aligned 128, {len(train_names) - len(val_names)} training identities ({int(fit.sum())} "
        f"images); validation: the last {len(val_names)} training identities; held out: the last {HELD_OUT}",
        "loss": "L1 + grad_weight x L1 of gradients + identity_weight x (1 - cos of dlib descriptors, "
        "restored vs clean; dlib's network in torch, acutance.faces.identity_loss)",
        "options": asdict(opts),
        "steps": info["steps"],
        "seconds": info["seconds"],
        "history": info["history"],
        "validation": info["validation"],
    }
    meta["training"]["steps"] = int(base.meta.get("training", {}).get("steps", 0)) + info["steps"]
    meta["training"]["seconds"] = round(float(base.meta.get("training", {}).get("seconds", 0)) + info["seconds"], 1)
    export_onnx(model, args.output, meta, int(base.meta["native_size"]))
    print(f"wrote {args.output}")
    return 0
