"""Build an HR/LR patch dataset from a folder of clean images (``acutance pairs``).

For each image (in sorted order of relative path; sharpened first with ``usm_hr``), candidate patch positions are drawn from a generator
keyed by the seed and the image's relative path; with SamplingAug more candidates are drawn and the worst
reconstructed by a bilinear round trip are kept. Each kept HR patch is rounded to 8 bit (the HR file on disk
is then exactly what was degraded) and degraded with its own keyed generator. Output:

    OUT/hr/NAME.png  OUT/lr/NAME.png  OUT/sidecars/NAME.json  (every sampled parameter of that pair)
    OUT/manifest.json  (options, config, one entry per pair)   OUT/config.toml  (the config, reloadable)
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from acutance.degrade.config import DegradeConfig, config_to_dict, config_to_toml
from acutance.degrade.pipeline import check_scale, degrade_pair, make_rng
from acutance.degrade.sampling_aug import candidate_count, reconstruction_psnr, select_informative
from acutance.errors import AcutanceError, ImageWriteError, OptionError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PairsOptions:
    """What ``acutance pairs`` was asked for (recorded in the manifest)."""

    scale: int = 4
    patch: int = 128  # HR patch side; LR patches are patch // scale
    per_image: int = 8
    sampling_aug: float | None = None  # keep this top fraction of candidates (None: no selection)
    seed: int = 0
    preset: str = "custom"  # a name for the record; the config itself is what runs
    usm_hr: bool = False  # sharpen the HR image first, as Real-ESRGAN does (LR is made from the sharpened HR)

    def __post_init__(self) -> None:
        check_scale(self.scale)
        if isinstance(self.patch, bool) or not isinstance(self.patch, int) or self.patch < 1:
            raise OptionError(f"--patch must be a positive integer, got {self.patch!r}")
        if self.patch % self.scale:
            raise OptionError(
                f"--patch {self.patch} is not a multiple of --scale {self.scale}: the LR patch would not line up "
                f"with the HR patch (try --patch {self.patch - self.patch % self.scale or self.scale})"
            )
        if isinstance(self.per_image, bool) or not isinstance(self.per_image, int) or self.per_image < 1:
            raise OptionError(f"--per-image must be a positive integer, got {self.per_image!r}")
        candidate_count(self.per_image, self.sampling_aug)  # validates the fraction
        make_rng(self.seed)  # validates the seed


def flat_name(relative: Path, keep_suffix: bool = False) -> str:
    """``sub/dir/photo.jpg`` -> ``sub__dir__photo`` (``sub__dir__photo_jpg`` with ``keep_suffix``)."""
    stem = "__".join(relative.with_suffix("").parts)
    return f"{stem}_{relative.suffix[1:]}" if keep_suffix else stem


def image_patches(
    image: np.ndarray, key: str, config: DegradeConfig, options: PairsOptions
) -> list[dict]:
    """The pairs of one image (in memory): dicts with candidate, box, score, hr, lr, params."""
    height, width = image.shape[:2]
    size = options.patch
    if height < size or width < size:
        raise OptionError(f"{key}: image of {width}x{height} is smaller than the {size}x{size} patch")
    count = candidate_count(options.per_image, options.sampling_aug)
    if options.usm_hr:
        from acutance.degrade.hr_sharpen import soft_unsharp_mask

        image = soft_unsharp_mask(image)  # on the whole image: a 51-px window would see mostly border in a patch
    crops = make_rng(options.seed, f"{key}#crops")
    tops = crops.integers(0, height - size + 1, size=count)
    lefts = crops.integers(0, width - size + 1, size=count)
    # Round to 8 bit first: the HR file written is then exactly the image that was degraded.
    patches = [
        np.rint(image[t : t + size, l : l + size] * np.float32(255.0)) * np.float32(1.0 / 255.0)
        for t, l in zip(tops, lefts)
    ]
    scores: list[float | None] = [None] * count
    keep = list(range(count))
    if options.sampling_aug is not None:
        scores = [reconstruction_psnr(p, options.scale) for p in patches]
        keep = sorted(select_informative(scores, options.per_image))
    out = []
    for index in keep:
        lr, params = degrade_pair(patches[index], config, make_rng(options.seed, f"{key}#{index}"), scale=options.scale)
        score = scores[index]
        out.append(
            {
                "candidate": index,
                "box": [int(tops[index]), int(lefts[index]), size, size],
                "sampling_aug_psnr": None if score is None or not math.isfinite(score) else round(score, 4),
                "hr": patches[index],
                "lr": lr,
                "params": params,
            }
        )
    return out


def _job(job: tuple) -> dict:
    """One image: read, make its pairs, write them. Returns the manifest entries, or the error."""
    from acutance.io import atomic_write_bytes, read_image, write_image

    source, relative, stem, out_dir, config, options, overwrite = job
    try:
        image = read_image(source).rgb
        entries = []
        for pair in image_patches(image, relative, config, options):
            name = f"{stem}_{pair['candidate']:04d}"
            hr_path, lr_path = f"hr/{name}.png", f"lr/{name}.png"
            write_image(out_dir / hr_path, pair["hr"], overwrite=overwrite, bit_depth=8)
            write_image(out_dir / lr_path, pair["lr"], overwrite=overwrite, bit_depth=8)
            entry = {
                "name": name,
                "hr": hr_path,
                "lr": lr_path,
                "sidecar": f"sidecars/{name}.json",
                "source": relative,
                "box": pair["box"],
                "sampling_aug_psnr": pair["sampling_aug_psnr"],
            }
            sidecar = entry | {
                "seed": options.seed,
                "key": f"{relative}#{pair['candidate']}",
                "preset": options.preset,
                "hr_shape": list(pair["hr"].shape[:2]),
                "lr_shape": list(pair["lr"].shape[:2]),
                "params": pair["params"],
            }
            data = (json.dumps(sidecar, indent=1) + "\n").encode("utf-8")
            atomic_write_bytes(out_dir / entry["sidecar"], data, overwrite=overwrite)
            entries.append(entry)
        return {"source": relative, "entries": entries}
    except AcutanceError as error:
        return {"source": relative, "error": str(error)}
    except OSError as error:
        return {"source": relative, "error": f"{relative}: {error.strerror or error}"}


def build_pairs(
    hr_dir: str | Path,
    out_dir: str | Path,
    config: DegradeConfig,
    options: PairsOptions,
    *,
    workers: int = 1,
    recursive: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Write the dataset; return the manifest (its ``failed`` list names images that could not be used)."""
    from acutance.degrade.parallel import check_workers, run_jobs
    from acutance.io import atomic_write_bytes, list_images

    check_workers(workers)
    hr_dir, out_dir = Path(hr_dir), Path(out_dir)
    images, _ = list_images(hr_dir, recursive=recursive)
    if not images:
        raise AcutanceError(f"{hr_dir}: no images found" + ("" if recursive else " (try --recursive)"))
    if out_dir.exists() and not out_dir.is_dir():
        raise ImageWriteError(f"cannot write into {out_dir}: it is a file, not a folder")
    if (out_dir / MANIFEST).exists() and not overwrite:
        raise ImageWriteError(f"{out_dir} already holds a dataset ({MANIFEST}); pass --overwrite to replace it")
    for sub in ("hr", "lr", "sidecars"):
        try:
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageWriteError(f"cannot create {out_dir / sub}: {error.strerror or error}") from error
    relatives = [path.relative_to(hr_dir) for path in images]
    stems = Counter(flat_name(r) for r in relatives)
    # photo.jpg and photo.png side by side keep their suffix in the name, so their pairs do not collide.
    jobs = [
        (path, r.as_posix(), flat_name(r, keep_suffix=stems[flat_name(r)] > 1), out_dir, config, options, overwrite)
        for path, r in zip(images, relatives)
    ]
    entries: list[dict] = []
    failed: list[dict] = []
    for result in run_jobs(_job, jobs, workers=workers, desc="pairs", progress=progress):
        if "error" in result:
            failed.append(result)
            print(f"acutance: error: {result['error']}", file=sys.stderr)
        else:
            entries.extend(result["entries"])
    entries.sort(key=lambda e: e["name"])
    failed.sort(key=lambda e: e["source"])
    manifest = {
        "kind": "acutance pairs",
        "version": 1,
        "hr_dir": str(hr_dir),
        "options": asdict(options),
        "config": config_to_dict(config),
        "count": len(entries),
        "images": len(images) - len(failed),
        "failed": failed,
        "entries": entries,
    }
    header = f"degradation config of this dataset (preset {options.preset}); load with --config"
    atomic_write_bytes(out_dir / "config.toml", config_to_toml(config, header).encode("utf-8"), overwrite=True)
    atomic_write_bytes(out_dir / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"), overwrite=True)
    return manifest


def dataset_pairs(out_dir: str | Path) -> list[tuple[Path, Path]]:
    """``(hr_path, lr_path)`` of every pair of a dataset written by :func:`build_pairs`, in name order."""
    out_dir = Path(out_dir)
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AcutanceError(f"{out_dir}: no {MANIFEST}; not a dataset written by 'acutance pairs'") from None
    except (OSError, ValueError) as error:
        raise AcutanceError(f"cannot read {out_dir / MANIFEST}: {error}") from error
    return [(out_dir / e["hr"], out_dir / e["lr"]) for e in manifest["entries"]]


def gallery_from_dataset(out_dir: str | Path, count: int = 8) -> np.ndarray:
    """A contact sheet of the first pairs, spread over the dataset (one per image where possible)."""
    from acutance.degrade.gallery import contact_sheet
    from acutance.io import read_image

    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    entries = manifest["entries"]
    if not entries:
        raise AcutanceError(f"{out_dir}: no pairs to show in a gallery")
    firsts: dict[str, dict] = {}
    for entry in entries:
        firsts.setdefault(entry["source"], entry)
    chosen = list(firsts.values())[:count]
    chosen += [e for e in entries if e not in chosen][: count - len(chosen)]
    pairs = [(read_image(out_dir / e["hr"]).rgb, read_image(out_dir / e["lr"]).rgb) for e in chosen]
    opts = manifest["options"]
    title = f"HR | LR x{opts['scale']} (pixels enlarged) - preset {opts['preset']}, seed {opts['seed']}"
    return contact_sheet(pairs, title=title)
