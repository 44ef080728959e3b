"""The temporal refiner (torch; training and export only): a small recurrent net on top of the shipped
single-frame compact net.

One step, all convolutions at LR resolution (``s`` the scale)::

    base  = compact(lr_t)                                   frozen, the shipped compact-xS weights
    x     = [lr_t, s2d(base), s2d(prev_hr~), prev_lr~ - lr_t, next_lr~ - lr_t, hidden~]
    f     = conv -> (residual block) x blocks
    hr_t  = base + d2s(conv(f)[:3 s^2]);  hidden_t = tanh(conv(f)[3 s^2:])

where ``~`` means warped to frame t by DIS flow on the LR frames (prev_hr by the flow upscaled), ``s2d`` is
space-to-depth. At a reset (first frame, scene cut) prev_hr~ = base, prev_lr~ = lr_t, hidden~ = 0; with no next
frame (the clip's end, a cut right after) next_lr~ = lr_t. The graph takes the warped inputs: flow and warping
run in OpenCV outside it (:mod:`acutance.vsr.flow`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from acutance.vsr.runtime import INPUTS, OUTPUTS


@dataclass(frozen=True)
class VsrSpec:
    scale: int = 4
    features: int = 32
    blocks: int = 3
    hidden: int = 16

    def dict(self) -> dict:
        return asdict(self)


def base_net(scale: int):
    """The shipped compact-xS as a frozen torch module (weights read from its ONNX file)."""
    from acutance.deep.arch.srvgg import SRVGGNetCompact
    from acutance.deep.runtime import read_initializers
    from acutance.models.families import shipped

    net = SRVGGNetCompact(num_feat=32, num_conv=8, upscale=scale, act_type="prelu", skip="bicubic")
    with shipped(f"compact-x{scale}.onnx").open("rb") as handle:
        weights = read_initializers(handle.read())
    state = {k: torch.from_numpy(v.copy()) for k, v in weights.items() if k.startswith("body.")}
    # PReLU slopes are stored unsqueezed in some exports
    state = {k: v.reshape(net.state_dict()[k].shape) for k, v in state.items()}
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


class Refiner(nn.Module):
    """The recurrent part: given the base and the warped inputs, the frame and the next hidden state."""

    def __init__(self, spec: VsrSpec) -> None:
        super().__init__()
        s2 = 3 * spec.scale**2
        self.spec = spec
        self.head = nn.Conv2d(3 + 2 * s2 + 6 + spec.hidden, spec.features, 3, 1, 1)
        self.body = nn.ModuleList(
            nn.Sequential(nn.Conv2d(spec.features, spec.features, 3, 1, 1), nn.LeakyReLU(0.1),
                          nn.Conv2d(spec.features, spec.features, 3, 1, 1))  # fmt: skip
            for _ in range(spec.blocks)
        )
        self.tail = nn.Conv2d(spec.features, s2 + spec.hidden, 3, 1, 1)
        with torch.no_grad():  # starts as the base net: a small residual, no hidden state
            self.tail.weight.mul_(0.1)
            self.tail.bias.zero_()

    def forward(self, lr, base, prev_hr, prev_lr, next_lr, hidden):
        s = self.spec.scale
        x = torch.cat([lr, F.pixel_unshuffle(base, s), F.pixel_unshuffle(prev_hr, s), prev_lr - lr, next_lr - lr, hidden], 1)
        f = F.leaky_relu(self.head(x), 0.1)
        for block in self.body:
            f = f + block(f)
        out = self.tail(f)
        s2 = 3 * s * s
        return base + F.pixel_shuffle(out[:, :s2], s), torch.tanh(out[:, s2:])


class VsrStep(nn.Module):
    """Base and refiner in one graph: what is exported (inputs ``INPUTS``, outputs ``OUTPUTS``)."""

    def __init__(self, spec: VsrSpec, refiner: Refiner | None = None) -> None:
        super().__init__()
        self.base = base_net(spec.scale)
        self.refiner = refiner or Refiner(spec)

    def forward(self, lr, prev_hr, prev_lr, next_lr, hidden, fresh):
        base = self.base(lr)
        prev_hr = fresh * base + (1 - fresh) * prev_hr  # a reset: the base stands in, as in training
        return self.refiner(lr, base, prev_hr, prev_lr, next_lr, hidden)


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- warping in torch, matching acutance.vsr.flow (cv2.remap bilinear, replicated borders) ------------------


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (N x C x H x W) sampled at x + flow (N x 2 x H x W, pixels)."""
    n, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype), torch.arange(w, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return F.grid_sample(image, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="border", align_corners=True)


def upscale_flow(flow: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(flow, scale_factor=scale, mode="bilinear", align_corners=False) * scale


def export(refiner: Refiner, path, meta: dict) -> None:
    """Write base + refiner as one ONNX file with the ``acutance`` metadata entry."""
    import json

    import onnx

    spec = refiner.spec
    step = VsrStep(spec, refiner).eval()
    h = w = 16
    s = spec.scale
    dummy = (torch.rand(1, 3, h, w), torch.rand(1, 3, h * s, w * s), torch.rand(1, 3, h, w), torch.rand(1, 3, h, w),
             torch.zeros(1, spec.hidden, h, w), torch.zeros(1, 1, 1, 1))  # fmt: skip
    axes = {name: {2: "h", 3: "w"} for name in INPUTS if name != "fresh"}
    axes |= {"hr": {2: "H", 3: "W"}, "hidden_out": {2: "h", 3: "w"}}
    axes["prev_hr"] = {2: "H", 3: "W"}
    torch.onnx.export(step, dummy, str(path), input_names=list(INPUTS), output_names=list(OUTPUTS),
                      dynamic_axes=axes, opset_version=17, dynamo=False)  # fmt: skip
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "acutance", json.dumps(meta, sort_keys=True)
    onnx.save(model, str(path))
