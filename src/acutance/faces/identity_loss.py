"""A differentiable identity loss: dlib's face-recognition ResNet, read from its own file into torch.

The benchmark's identity measure (``acutance.faces.identity``) is the cosine of dlib's 128-d descriptors.
To train a restorer towards it we need gradients through that network, which dlib does not give. The
network is small and its file format is plain, so this module reads ``dlib_face_recognition_resnet_model_v1
.dat`` (from the ``face_recognition_models`` package: nothing is downloaded) and rebuilds it in torch:

    input_rgb_image_sized<150>: (pixel - channel mean) / 256, pixels in 0..255
    con 32 7x7 /2 -> affine -> relu -> max_pool 3x3 /2
    level 32: 3 residual blocks; level 64: a down block + 3; level 128: down + 2; level 256: down + 2;
    level 256: down; avg_pool_everything; fc_no_bias 128.

A residual block is ``relu(x + affine(con(relu(affine(con(x))))))`` with 3x3 convolutions; a down block
starts with a stride-2 convolution and adds a 2x2 /2 average pool of its input. dlib adds tensors of
different shapes by zero-padding the smaller (top-left aligned), which happens where a down block doubles
the channels and, at the 8x8 -> 3x3 / 4x4 step, the spatial size; :func:`_dlib_add` does the same. The
convolutions with stride 2 have no padding, the others pad by 1 (the values are read from the file).
``affine`` is dlib's frozen batch norm: ``gamma * x + beta`` per channel.

The file is dlib's serialization of the network object: each layer's details in forward order (the input
layer first), parameters as little-endian float32 tensors, integers in dlib's packed format. The reader
finds each layer's name string, parses its details, and checks the sequence against the architecture above,
so a different file is an error, not a silently wrong network.

The face chip (150x150, dlib's 5-point alignment with padding 0.25) is taken from a crop by
``torch.nn.functional.grid_sample`` with the affine transform that ``dlib.get_face_chip_details`` gives,
so the loss is differentiable with respect to the crop's pixels. :func:`chip_transform` computes the
sampling grid once per face (from the clean crop's landmarks, as the benchmark does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acutance.errors import ModelError

CHIP_SIZE = 150
CHIP_PADDING = 0.25
_NAMES = re.compile(
    rb"(input_rgb_image_sized|con_[456]|affine_2?|bn_con2|relu_2?|max_pool_2|avg_pool_2|add_prev_|fc_[23])"
)


# ------------------------------------------------------------------------------------- file reading
class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def int(self) -> int:
        control = self.data[self.pos]
        size, negative = control & 0x0F, bool(control & 0x80)
        if size > 8:
            raise ModelError(f"dlib file: bad integer at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0**exponent

    def string(self) -> str:
        size = self.int()
        text = self.data[self.pos : self.pos + size].decode("ascii")
        self.pos += size
        return text

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise ModelError(f"dlib file: tensor version {version} at byte {self.pos} (expected 2)")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, "<f4", count, self.pos).reshape(shape).copy()
        self.pos += 4 * count
        return values

    def alias(self) -> tuple[int, ...]:
        if self.int() != 1:
            raise ModelError(f"dlib file: bad alias tensor at byte {self.pos}")
        return tuple(self.int() for _ in range(4))


@dataclass
class DlibLayer:
    """One layer's details as stored: ``kind`` (con, affine, relu, max_pool, avg_pool, add_prev, fc, input)."""

    kind: str
    params: dict = field(default_factory=dict)


def _parse_layer(reader: _Reader, name: str) -> DlibLayer:
    if name == "input_rgb_image_sized":
        return DlibLayer("input", {"mean": [reader.float(), reader.float(), reader.float()]})
    if name.startswith("con_"):
        params = reader.tensor().reshape(-1)
        filters, nr, nc = reader.int(), reader.int(), reader.int()
        stride_y, stride_x, pad_y, pad_x = reader.int(), reader.int(), reader.int(), reader.int()
        fshape, bshape = reader.alias(), reader.alias()
        nweights = int(np.prod(fshape))
        weight = params[:nweights].reshape(fshape)  # num_filters x k x nr x nc (cross-correlation)
        bias = params[nweights : nweights + int(np.prod(bshape))].reshape(-1)
        if weight.shape[0] != filters or weight.shape[2:] != (nr, nc):
            raise ModelError(f"dlib file: convolution shape mismatch {weight.shape} vs {filters}x{nr}x{nc}")
        return DlibLayer("con", {"weight": weight, "bias": bias, "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)})
    if name.startswith("affine_"):
        params = reader.tensor().reshape(-1)
        gshape, _ = reader.alias(), reader.alias()
        count = int(np.prod(gshape))
        mode = reader.int()
        return DlibLayer("affine", {"gamma": params[:count].copy(), "beta": params[count : 2 * count].copy(), "mode": mode})
    if name.startswith("relu_"):
        return DlibLayer("relu")
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, sy, sx, py, px = (reader.int() for _ in range(6))
        return DlibLayer(name[:-2], {"size": (nr, nc), "stride": (sy, sx), "padding": (py, px)})
    if name == "add_prev_":
        return DlibLayer("add_prev")
    if name.startswith("fc_"):
        outputs, inputs = reader.int(), reader.int()
        params = reader.tensor().reshape(-1)
        return DlibLayer("fc", {"weight": params[: inputs * outputs].reshape(inputs, outputs).copy()})
    raise ModelError(f"dlib file: unsupported layer {name!r}")


def read_dlib_layers(path: str | Path) -> list[DlibLayer]:
    """The layers of a dlib DNN file in forward order (input first), with their parameters."""
    data = Path(path).read_bytes()
    layers, pos = [], 0
    while True:
        match = _NAMES.search(data, pos)
        if match is None:
            break
        start = match.start()
        # a name string is stored as its packed length (control byte 0x01, then the length) + the bytes
        if start < 2 or data[start - 2] != 1 or data[start - 1] != len(match.group(1)):
            pos = start + 1
            continue
        reader = _Reader(data, match.end())
        layers.append(_parse_layer(reader, match.group(1).decode()))
        pos = reader.pos
    return layers


def default_model_path() -> Path:
    from acutance.faces.identity import _models_dir

    return _models_dir() / "dlib_face_recognition_resnet_model_v1.dat"


# ------------------------------------------------------------------------------------------ network
def _dlib_add(a, b):
    """dlib's ``add_prev``: the sum of two tensors, the smaller zero-padded (top-left) to the larger."""
    import torch.nn.functional as F

    if a.shape == b.shape:
        return a + b
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]

    def pad(t):
        return F.pad(t, (0, shape[3] - t.shape[3], 0, shape[2] - t.shape[2], 0, shape[1] - t.shape[1]))

    return pad(a) + pad(b)


def build_dlib_resnet(layers: list[DlibLayer] | None = None):
    """A torch module equal to dlib's recognition network: ``N x 3 x 150 x 150`` RGB in [0, 255] -> ``N x 128``.

    The layer sequence read from the file is checked against the architecture in the module docstring.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    layers = read_dlib_layers(default_model_path()) if layers is None else layers
    kinds = "".join({"input": "I", "con": "C", "affine": "A", "relu": "R", "max_pool": "M", "avg_pool": "P",
                     "add_prev": "+", "fc": "F"}[layer.kind] for layer in layers)
    block, down = "CARCA+R", "CARCAP+R"
    want = "ICARM" + block * 3 + down + block * 3 + down + block * 2 + down + block * 2 + down + "PF"
    if kinds != want:
        raise ModelError(f"dlib recognition file: unexpected layer sequence {kinds} (expected {want})")
    if layers[0].params["mean"] is None:
        raise ModelError("dlib recognition file: no input means")

    class Conv(nn.Module):
        def __init__(self, layer: DlibLayer) -> None:
            super().__init__()
            p = layer.params
            self.weight = nn.Parameter(torch.from_numpy(np.ascontiguousarray(p["weight"])), requires_grad=False)
            self.bias = nn.Parameter(torch.from_numpy(np.ascontiguousarray(p["bias"])), requires_grad=False)
            self.stride, self.padding = p["stride"], p["padding"]

        def forward(self, x):
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    class Affine(nn.Module):
        def __init__(self, layer: DlibLayer) -> None:
            super().__init__()
            self.gamma = nn.Parameter(torch.from_numpy(layer.params["gamma"]).view(1, -1, 1, 1), requires_grad=False)
            self.beta = nn.Parameter(torch.from_numpy(layer.params["beta"]).view(1, -1, 1, 1), requires_grad=False)

        def forward(self, x):
            return x * self.gamma + self.beta

    class DlibResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(layers[0].params["mean"], dtype=torch.float32).view(1, 3, 1, 1))
            self.convs = nn.ModuleList(Conv(layer) for layer in layers if layer.kind == "con")
            self.affines = nn.ModuleList(Affine(layer) for layer in layers if layer.kind == "affine")
            self.pools = [layer.params for layer in layers if layer.kind in ("max_pool", "avg_pool")]
            self.fc = nn.Parameter(torch.from_numpy(layers[-1].params["weight"]), requires_grad=False)
            self.plan = kinds

        def forward(self, x):
            x = (x - self.mean) / 256.0
            conv = iter(zip(self.convs, self.affines))
            pools = iter(self.pools)
            c, a = next(conv)
            x = F.relu(a(c(x)))
            p = next(pools)
            x = F.max_pool2d(x, p["size"], p["stride"], p["padding"])
            i = 5
            while self.plan[i] != "P":  # the last pool is avg_pool_everything
                is_down = self.plan[i : i + 6] == "CARCAP"
                c1, a1 = next(conv)
                c2, a2 = next(conv)
                y = a2(c2(F.relu(a1(c1(x)))))
                if is_down:
                    p = next(pools)
                    x = F.avg_pool2d(x, p["size"], p["stride"], p["padding"])
                x = F.relu(_dlib_add(y, x))
                i += len(down) if is_down else len(block)
            return x.mean(dim=(2, 3)) @ self.fc  # avg_pool_everything, fc_no_bias

    return DlibResNet().eval()


# --------------------------------------------------------------------------------------- face chips
def chip_transform(landmarks5: np.ndarray, box: tuple[int, int, int, int], crop_size: int, size: int = CHIP_SIZE,
                   padding: float = CHIP_PADDING) -> np.ndarray:
    """The ``grid_sample`` affine ``theta`` (2 x 3, normalised coordinates, align_corners=False) that takes
    ``size x size`` chip coordinates to a ``crop_size`` square crop, as ``dlib.get_face_chip`` samples it.

    landmarks5: dlib's 5 landmarks (as ``acutance.faces.identity.DlibFace.landmarks``); box: the face box.
    """
    import dlib

    points = dlib.points()
    for x, y in landmarks5:
        points.append(dlib.point(round(x), round(y)))
    details = dlib.get_face_chip_details(dlib.full_object_detection(dlib.rectangle(*box), points), size, padding)
    rect, angle = details.rect, details.angle
    # dlib: chip pixel (c, r) -> image point centre + R(angle) * ((c, r) - (cols-1)/2) * scale
    sx = (rect.width() - 1) / max(details.cols - 1, 1)
    sy = (rect.height() - 1) / max(details.rows - 1, 1)
    cx, cy = (rect.left() + rect.right()) / 2.0, (rect.top() + rect.bottom()) / 2.0
    cos, sin = np.cos(angle), np.sin(angle)
    # chip pixel -> image pixel, as a 3x3 matrix
    centre = np.array([[1, 0, -(details.cols - 1) / 2], [0, 1, -(details.rows - 1) / 2], [0, 0, 1]])
    scale = np.diag([sx, sy, 1.0])
    rot = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
    move = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]])
    chip_to_image = move @ rot @ scale @ centre
    # normalised (align_corners=False): u = (2 p + 1) / n - 1  <=>  p = ((u + 1) n - 1) / 2
    from_norm = np.array([[size / 2, 0, (size - 1) / 2], [0, size / 2, (size - 1) / 2], [0, 0, 1]])
    to_norm = np.array([[2 / crop_size, 0, 1 / crop_size - 1], [0, 2 / crop_size, 1 / crop_size - 1], [0, 0, 1]])
    return (to_norm @ chip_to_image @ from_norm)[:2].astype(np.float32)


def extract_chips(images, thetas):
    """Differentiable face chips: ``images`` N x 3 x H x W in [0, 1], ``thetas`` N x 2 x 3 -> N x 3 x 150 x 150 in [0, 255]."""
    import torch.nn.functional as F

    grid = F.affine_grid(thetas, [images.shape[0], 3, CHIP_SIZE, CHIP_SIZE], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False) * 255.0


def identity_loss(net, restored, thetas, targets):
    """Mean ``1 - cos(dlib(chip(restored)), target)`` over the batch (targets: N x 128 descriptors)."""
    import torch.nn.functional as F

    emb = net(extract_chips(restored, thetas))
    return (1.0 - F.cosine_similarity(emb, targets, dim=1)).mean()


def face_geometry(crop: np.ndarray):
    """The face box and dlib's 5 landmarks in a clean crop, found as the benchmark finds them (HOG detection,
    else the template's face region of a 128 crop scaled to the crop)."""
    from acutance.faces import identity

    try:
        face = identity.find_face(crop)
    except ModelError:
        s = crop.shape[0] / 128.0
        face = identity.find_face(crop, face=tuple(round(v * s) for v in (24, 36, 104, 116)))
    return face

