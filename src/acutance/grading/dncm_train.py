"""The DNCM recipe on ``acutance.train`` (torch, CPU, one thread): Neural Preset's self-supervised training.

Data: thumbnails (longest side 64, as the encoder sees at run time) of the images under ``--data``; a few are
held out. Each step takes ``batch`` images and two random looks of each (``acutance.grading.perturb``; with
probability ``plain`` a look is the image itself). With ``n_i``/``s_i`` the normalising/stylising tables the
encoder predicts for look ``i``:

    Z_i = DNCM(I_i, n_i),  Z_j = DNCM(I_j, n_j)          (both looks normalised)
    loss = |DNCM(Z_j, s_i) - I_i| + |DNCM(Z_i, s_j) - I_j| + consistency * |Z_i - Z_j|

so a look is removed by ``n`` and put back by ``s`` of another image of it, with no stylised ground truth.

``cross`` > 0 adds a cross-image term (our addition; the shipped model uses it): the same random look L is
drawn on two different training images A and B, and ``DNCM(DNCM(B', n_B'), s_L(A)) = L(B)`` for B' a random
other look of B (or B itself). Self-supervision alone lets ``s`` encode the image it was computed from (it is
the reconstruction target), which does not carry over to another image's content; this term asks for exactly
what style transfer needs, still from perturbations of the training images only.
Validation is the real task on held-out images: the look of one image (a random perturbation of it) is moved
onto another image, scored by PSNR against that image with the same perturbation; the best state is kept.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from acutance.grading import dncm
from acutance.grading.perturb import FAMILIES, random_look
from acutance.errors import OptionError
from acutance.options import RecipeConfig


@dataclass
class DncmConfig(RecipeConfig):
    """Options of ``acutance train dncm`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    knots: int = 16
    hidden: int = 256
    hidden_layers: int = 2
    steps: int = 6000
    batch: int = 12
    pixels: int = 1024  # pixels per image in the loss (sampled from the thumbnail)
    lr: float = 1e-3
    lr_min: float = 1e-5
    warmup: int = 100
    ema: float = 0.999
    consistency: float = 1.0
    cross: float = 0.0  # weight of the cross-image term (0: the paper's self-supervision only; see the docstring)
    plain: float = 0.2  # probability that a look is the unperturbed image
    source_plain: float = -1.0  # the same for the cross term's input image (< 0: as ``plain``)
    looks: str = "basic"  # the perturbation family (acutance.grading.perturb.FAMILIES): "basic" or "broad"
    crop: float = 1.0  # each sample is a random crop of side fraction crop..1 of the image (1: the whole image)
    val_images: int = 24
    val_every: int = 500
    minutes: float = 0.0  # stop after this many minutes of training (0: none)

    def check(self) -> None:
        if self.knots < 2 or self.hidden < 1 or self.hidden_layers < 1:
            raise OptionError("knots >= 2, hidden >= 1 and hidden_layers >= 1 are required")
        if self.steps < 1 or self.batch < 1 or self.pixels < 1 or self.val_images < 2:
            raise OptionError("steps, batch, pixels >= 1 and val_images >= 2 are required")
        if self.looks not in FAMILIES:
            raise OptionError(f"looks must be one of {', '.join(FAMILIES)}, got {self.looks!r}")
        if not 0 < self.crop <= 1:
            raise OptionError(f"crop must be in (0, 1], got {self.crop}")


def build_encoder(config: DncmConfig):
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [dncm.FEATURES] + [config.hidden] * config.hidden_layers
            self.body = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
            out = dncm.INPUTS * config.knots * 3
            self.normalise, self.stylise = torch.nn.Linear(config.hidden, out), torch.nn.Linear(config.hidden, out)
            for head in (self.normalise, self.stylise):  # start at the identity mapping
                torch.nn.init.normal_(head.weight, std=1e-3)
                torch.nn.init.zeros_(head.bias)
            self.register_buffer("identity", torch.from_numpy(dncm.identity_table(config.knots)))

        def forward(self, features):
            x = features
            for layer in self.body:
                x = torch.relu(layer(x))
            shape = (-1, dncm.INPUTS, config.knots, 3)
            return self.identity + self.normalise(x).view(shape), self.identity + self.stylise(x).view(shape)

    return Encoder()


def map_pixels(rgb, table):
    """DNCM in torch, equal to the numba kernel: ``rgb`` B x N x 3, ``table`` B x 4 x K x 3 -> B x N x 3."""
    import torch

    knots = table.shape[2]
    luma = rgb @ torch.from_numpy(dncm.LUMA)
    values = torch.cat([rgb, luma[..., None]], -1).clamp(0, 1) * (knots - 1)  # B x N x 4
    low = values.detach().floor().clamp(max=knots - 2).long()
    w = (values - low)[..., None]  # the gradient flows through the weights (Z feeds the second stage)
    batch = rgb.shape[0]
    flat = table.reshape(batch, -1, 3)  # B x 4K x 3: row ch * K + k
    index = (low + torch.arange(dncm.INPUTS) * knots).reshape(batch, -1)  # B x 4N
    rows = torch.arange(batch)[:, None]
    t0 = flat[rows, index].view(*low.shape, 3)  # B x N x 4 x 3
    t1 = flat[rows, index + 1].view(*low.shape, 3)
    return ((1 - w) * t0 + w * t1).sum(2)


def to_arrays(net) -> dict[str, np.ndarray]:
    arrays = {}
    for i, layer in enumerate(net.body):
        arrays[f"w{i}"], arrays[f"b{i}"] = layer.weight.detach().numpy().T, layer.bias.detach().numpy()
    arrays["wn"], arrays["bn"] = net.normalise.weight.detach().numpy().T, net.normalise.bias.detach().numpy()
    arrays["ws"], arrays["bs"] = net.stylise.weight.detach().numpy().T, net.stylise.bias.detach().numpy()
    return arrays


def load_thumbnails(files, size: int = dncm.THUMB) -> list[np.ndarray]:
    from acutance.io import read_image

    return [np.ascontiguousarray(dncm.thumbnail(read_image(path).rgb, size)) for path in files]


def random_crop(image: np.ndarray, rng: np.random.Generator, smallest: float) -> np.ndarray:
    """A random window (side fraction ``smallest``..1) as the encoder's thumbnail: different colour statistics
    from the same picture, so the encoder cannot learn the 400-odd training images by heart."""
    if smallest >= 1:
        return dncm.thumbnail(image)
    h, w = image.shape[:2]
    fraction = rng.uniform(smallest, 1.0)
    ch, cw = max(8, round(h * fraction)), max(8, round(w * fraction))
    y, x = rng.integers(h - ch + 1), rng.integers(w - cw + 1)
    return np.ascontiguousarray(dncm.thumbnail(image[y : y + ch, x : x + cw]))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean((a - b) ** 2)), 1e-12)))


def validation_triples(thumbs, seed: int, family: str = "basic"):
    """(input, reference, ground truth): reference = look(A), ground truth = look(B), input = B."""
    rng = np.random.default_rng(seed + 7)
    triples = []
    for a, b in zip(thumbs, thumbs[1:] + thumbs[:1]):
        state = rng.bit_generator.state
        ref = random_look(a, rng, family)
        rng.bit_generator.state = state  # the same look on both
        triples.append((b, ref, random_look(b, rng, family)))
    return triples


def train(config: DncmConfig, data_dirs: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None) -> tuple[dict, dict]:
    """Train the encoder; returns (arrays, meta) for ``dncm.save_encoder``."""
    from acutance.train.data import find_images, held_out_split
    from acutance.train.loop import LoopOptions, begin_recipe, fit

    torch, run = begin_recipe(config, run, data_dirs, "DNCM training")
    files = find_images(data_dirs, sort=True)
    start = time.perf_counter()
    held, rest = held_out_split(files, config.val_images)
    # crops are taken from a larger thumbnail, so a crop still has THUMB pixels on its longest side
    size = dncm.THUMB if config.crop >= 1 else round(dncm.THUMB / config.crop)
    thumbs, val = load_thumbnails(rest, size), validation_triples(load_thumbnails(held), config.seed, config.looks)
    log = log or (lambda line: None)
    log(f"DNCM: {len(thumbs)} training images, {len(val)} held out ({time.perf_counter() - start:.0f} s to load)")
    rng = np.random.default_rng(config.seed + 1)
    net = build_encoder(config)

    source_plain = config.plain if config.source_plain < 0 else config.source_plain

    def look(image: np.ndarray, plain: float = config.plain) -> np.ndarray:
        return image if rng.random() < plain else random_look(image, rng, config.looks)

    def sample(index: int) -> np.ndarray:
        return random_crop(thumbs[index], rng, config.crop)

    def losses(step: int) -> dict:
        chosen = rng.integers(len(thumbs), size=config.batch)
        feats, pix = [], []
        for index in chosen:
            image = sample(index)
            pair = (look(image), look(image))
            flat = [p.reshape(-1, 3) for p in pair]
            take = rng.integers(flat[0].shape[0], size=config.pixels)
            feats += [dncm.encoder_features(p) for p in pair]
            pix.append(np.stack([f[take] for f in flat]))
        features = torch.from_numpy(np.stack(feats))  # (2B) x F, looks i, j interleaved
        pixels = torch.from_numpy(np.stack(pix))  # B x 2 x N x 3
        n, s = net(features)
        n, s = n.view(config.batch, 2, *n.shape[1:]), s.view(config.batch, 2, *s.shape[1:])
        z_i, z_j = map_pixels(pixels[:, 0], n[:, 0]), map_pixels(pixels[:, 1], n[:, 1])
        y_i, y_j = map_pixels(z_j, s[:, 0]), map_pixels(z_i, s[:, 1])
        rec = (y_i - pixels[:, 0]).abs().mean() + (y_j - pixels[:, 1]).abs().mean()
        terms = {"rec": rec, "con": config.consistency * (z_i - z_j).abs().mean()}
        if config.cross > 0:
            terms["cross"] = config.cross * cross_term()
        return terms

    def cross_term():
        feats, pix = [], []
        for _ in range(config.batch):
            a, b = rng.choice(len(thumbs), size=2, replace=False)
            image_a, image_b = sample(a), sample(b)
            state = rng.bit_generator.state
            styled_a = random_look(image_a, rng, config.looks)
            rng.bit_generator.state = state  # the same look on B
            target = random_look(image_b, rng, config.looks).reshape(-1, 3)
            source = look(image_b, source_plain)
            feats += [dncm.encoder_features(source), dncm.encoder_features(styled_a)]
            take = rng.integers(target.shape[0], size=config.pixels)
            pix.append(np.stack([source.reshape(-1, 3)[take], target[take]]))
        n, s = net(torch.from_numpy(np.stack(feats)))
        n, s = n.view(config.batch, 2, *n.shape[1:]), s.view(config.batch, 2, *s.shape[1:])
        pixels = torch.from_numpy(np.stack(pix))
        out = map_pixels(map_pixels(pixels[:, 0], n[:, 0]), s[:, 1])
        return (out - pixels[:, 1]).abs().mean()

    def validate(model) -> dict:
        # In torch, not the numba kernel: numba's parallel worker threads, once started in this process, slowed
        # every later torch step several-fold on a loaded machine. The two agree to 1e-5 (tests).
        scores = []
        for b, ref, gt in val:
            n, _ = model(torch.from_numpy(dncm.encoder_features(b))[None])
            _, s = model(torch.from_numpy(dncm.encoder_features(ref))[None])
            out = map_pixels(map_pixels(torch.from_numpy(b.reshape(1, -1, 3)), n), s).clamp(0, 1)
            scores.append(_psnr(out.numpy().reshape(b.shape), gt))
        return {"val_psnr": round(float(np.mean(scores)), 3)}

    options = LoopOptions(steps=config.steps, lr=config.lr, lr_min=config.lr_min, warmup=config.warmup,
                          ema=config.ema, val_every=config.val_every, log_every=config.val_every,
                          checkpoint_every=config.val_every, keep_best=True, time_limit_s=config.minutes * 60,
                          threads=config.threads)
    result = fit(net, torch.optim.Adam(net.parameters(), lr=config.lr), losses, options, rng=rng,
                 run=run, config=config, validate=validate,
                 name="dncm", progress=progress, stop_after=stop_after, log=log)
    meta = {"knots": config.knots, "hidden_layers": config.hidden_layers, "config": asdict(config),
            "steps": result.step, "training_seconds": result.seconds, "best": result.best,
            "data": [str(d) for d in data_dirs], "images": len(thumbs)}
    return to_arrays(result.model), meta


def dncm_encoder(net, config: DncmConfig) -> dncm.DncmEncoder:
    """The numpy encoder of a torch module (what the model file will hold)."""
    a = to_arrays(net)
    layers = tuple((a[f"w{i}"], a[f"b{i}"]) for i in range(config.hidden_layers))
    return dncm.DncmEncoder(layers, (a["wn"], a["bn"]), (a["ws"], a["bs"]), config.knots, {})
