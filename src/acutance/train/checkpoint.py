"""Training checkpoints as safetensors: every tensor under a dotted name, everything else as JSON metadata.

No pickle in either direction: modules and optimisers are stored through their ``state_dict``; an
optimiser's state is split into its tensors (``PREFIX.state.ID.KEY``) and its plain values (step counts,
hyper-parameters of the groups), which go into the JSON. The file is written atomically (temp + rename), so a
run killed mid-write keeps its previous checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from acutance.errors import ModelError

FORMAT = "acutance-train-checkpoint-1"


def module_tensors(prefix: str, state: dict) -> dict:
    """``{prefix.key: tensor}`` of a module ``state_dict`` (copies, contiguous: safetensors wants no aliases)."""
    return {f"{prefix}.{k}": v.detach().contiguous().clone() for k, v in state.items()}


def module_state(prefix: str, tensors: dict) -> dict:
    start = len(prefix) + 1
    return {k[start:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def optimiser_parts(prefix: str, state: dict) -> tuple[dict, dict]:
    """An optimiser ``state_dict`` as (tensors, JSON-able rest)."""
    import torch

    tensors, plain = {}, {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{pid}.{key}"] = value.detach().contiguous().clone()
            else:
                plain.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "plain": plain}


def optimiser_state(prefix: str, tensors: dict, rest: dict) -> dict:
    state: dict[int, dict] = {}
    start = len(prefix) + len(".state.")
    for name, value in tensors.items():
        if name.startswith(prefix + ".state."):
            pid, key = name[start:].split(".", 1)
            state.setdefault(int(pid), {})[key] = value
    for pid, values in rest["plain"].items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": rest["param_groups"]}


def save(path: str | os.PathLike, tensors: dict, meta: dict) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(temp), metadata={"acutance": json.dumps({"format": FORMAT, **meta})})
    os.replace(temp, path)
    return path


def read_safetensors(path: str | os.PathLike, what: str) -> tuple[dict, dict]:
    """``(tensors, meta)`` of a safetensors file with our JSON in its ``acutance`` metadata entry; a ModelError
    naming the file (and ``what`` it should have been) when it cannot be read."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {}).get("acutance", "{}"))
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, SafetensorError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: cannot read the {what}: {error}") from None
    return tensors, meta


def load(path: str | os.PathLike) -> tuple[dict, dict]:
    """``(tensors, meta)`` of a checkpoint written by ``save``; ModelError naming the file otherwise."""
    tensors, meta = read_safetensors(path, "training checkpoint")
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not a training checkpoint of acutance (format {meta.get('format')!r})")
    return tensors, meta
