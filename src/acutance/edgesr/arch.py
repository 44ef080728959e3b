"""edge-SR networks (Michelini et al., "edge-SR: Super-Resolution for the Masses", WACV 2022) as torch modules.

All variants read the LR luma ``x`` (B, 1, H, W) in [0, 1] and return the HR luma (B, 1, sH, sW).
A filter bank of ``G * s * s * C`` outputs is pixel-shuffled into ``G * C`` HR channels; conv output channel
``(g * C + c) * s * s + i * s + j`` becomes group ``g``, channel ``c``, phase ``(i, j)`` of the HR grid.

* ``max`` (eSR-MAX, G = 1): the maximum over the C channels.
* ``tm``  (eSR-TM, G = 2): groups (value, key); ``sum_c value * softmax_c(key)`` (template matching).
* ``tr``  (eSR-TR, G = 3): groups (value, query, key); ``sum_c value * softmax_c(query * key)``.
* ``cnn`` (eSR-CNN): conv 5x5 (1 -> D) + tanh, conv 3x3 (D -> S) + tanh, then a 3x3 head (S -> 2 s^2 C, no
  bias), groups (value, key) and ``sum_c value * softmax_c(key * key)``, as the authors' code does.

Differences from the authors' code, on purpose: every convolution pads by edge replication (the runtime uses
OpenCV's ``BORDER_REPLICATE``; the authors zero-pad, which darkens the image border), and a single-channel
input only. Initialisation follows the authors: Xavier-normal weights with the centre tap of input channel 0
set to 1 (every output starts near nearest-neighbour upscaling).

torch is imported lazily (the ``train`` extra); the runtime (``acutance.edgesr.runtime``) never needs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from acutance.errors import ModelError

KINDS = ("max", "tm", "tr", "cnn")
GROUPS = {"max": 1, "tm": 2, "tr": 3, "cnn": 2}
CNN_KERNELS = (5, 3)  # body kernels of eSR-CNN; the head is 3x3


@dataclass(frozen=True)
class EsrSpec:
    """What an edge-SR model is: kind, scale, C channels, head kernel k; D and S for eSR-CNN."""

    kind: str
    scale: int = 2
    channels: int = 4
    kernel: int = 5
    depth: int = 0  # eSR-CNN: D, the first layer's channels
    features: int = 0  # eSR-CNN: S, the second layer's channels

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelError(f"edge-SR kind must be one of {KINDS}, got {self.kind!r}")
        if self.scale not in (2, 3, 4):
            raise ModelError(f"edge-SR scale must be 2, 3 or 4, got {self.scale}")
        if self.channels < 1:
            raise ModelError(f"edge-SR channels must be >= 1, got {self.channels}")
        if self.kind == "cnn":
            if self.kernel != 3 or self.depth < 1 or self.features < 1:
                raise ModelError("eSR-CNN needs kernel 3 (its head), depth D >= 1 and features S >= 1")
        elif self.kernel < 1 or self.kernel % 2 == 0 or self.depth or self.features:
            raise ModelError(f"single-layer edge-SR needs an odd kernel and no depth/features, got {self}")

    @property
    def groups(self) -> int:
        return GROUPS[self.kind]

    @property
    def head_outputs(self) -> int:
        return self.groups * self.scale * self.scale * self.channels

    @property
    def layers(self) -> list[tuple[int, int, int, bool]]:
        """(in, out, kernel, bias) of each convolution; tanh between them; the last is the head."""
        head_in = self.features if self.kind == "cnn" else 1
        body = [(1, self.depth, CNN_KERNELS[0], True), (self.depth, self.features, CNN_KERNELS[1], True)]
        return (body if self.kind == "cnn" else []) + [(head_in, self.head_outputs, self.kernel, False)]

    @property
    def context(self) -> int:
        """LR pixels of reach on each side."""
        return sum((k - 1) // 2 for _, _, k, _ in self.layers)

    @property
    def params(self) -> int:
        return sum(i * o * k * k + (o if b else 0) for i, o, k, b in self.layers)

    @property
    def name(self) -> str:
        size = f"d{self.depth}-s{self.features}" if self.kind == "cnn" else f"k{self.kernel}"
        return f"esr-{self.kind}-c{self.channels}-{size}-x{self.scale}"

    def to_dict(self) -> dict:
        return asdict(self)


def build(spec: EsrSpec):
    """The torch module of ``spec`` (needs torch)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class EdgeSR(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.spec = spec
            self.convs = nn.ModuleList(nn.Conv2d(i, o, k, bias=b) for i, o, k, b in spec.layers)
            for conv in self.convs:
                nn.init.xavier_normal_(conv.weight, gain=1.0)
                c = conv.kernel_size[0] // 2
                with torch.no_grad():
                    conv.weight[:, 0, c, c] = 1.0
                    if conv.bias is not None:
                        conv.bias.zero_()

        def forward(self, x):
            for n, conv in enumerate(self.convs):
                p = conv.kernel_size[0] // 2
                x = conv(F.pad(x, (p, p, p, p), mode="replicate"))
                if n < len(self.convs) - 1:
                    x = torch.tanh(x)
            x = F.pixel_shuffle(x, spec.scale)  # (B, G*C, sH, sW)
            b, _, h, w = x.shape
            x = x.view(b, spec.groups, spec.channels, h, w)
            if spec.kind == "max":
                return x[:, 0].amax(dim=1, keepdim=True)
            value = x[:, 0]
            if spec.kind == "tm":
                score = x[:, 1]
            elif spec.kind == "tr":
                score = x[:, 1] * x[:, 2]
            else:
                score = x[:, 1] * x[:, 1]
            return (value * torch.softmax(score, dim=1)).sum(dim=1, keepdim=True)

    return EdgeSR()


def module_arrays(module) -> dict:
    """The module's weights as numpy float32 arrays, named as in the model file (``w0``, ``b0``, ...)."""
    arrays = {}
    for n, conv in enumerate(module.convs):
        arrays[f"w{n}"] = conv.weight.detach().cpu().numpy().astype("float32")
        if conv.bias is not None:
            arrays[f"b{n}"] = conv.bias.detach().cpu().numpy().astype("float32")
    return arrays


def load_arrays(module, arrays: dict) -> None:
    """Copy model-file arrays into the module (strict shapes)."""
    import torch

    with torch.no_grad():
        for n, conv in enumerate(module.convs):
            conv.weight.copy_(torch.from_numpy(arrays[f"w{n}"]))
            if conv.bias is not None:
                conv.bias.copy_(torch.from_numpy(arrays[f"b{n}"]))
