"""Option files (JSON or TOML) for the typed training configs: one reader, one-line errors.

``read_options(cls, path, overrides)`` returns the keyword arguments for the dataclass ``cls``: the file's
values, then the non-None ``overrides`` (command-line flags) on top; an unreadable or malformed file, or a
key ``cls`` does not have, is an ``OptionError`` naming it. ``OptionsFile`` gives a config dataclass its
``load(path, **overrides)`` (read, then the class's own ``check()``).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from acutance.errors import OptionError


def read_options(cls, path: str | Path | None, overrides: dict) -> dict:
    values: dict = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
            values = tomllib.loads(text) if str(path).endswith(".toml") else json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
            raise OptionError(f"cannot read the options file {path}: {error}") from None
        if not isinstance(values, dict):
            raise OptionError(f"the options file {path} must hold an object of option: value pairs")
    values |= {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(values) - set(cls.__dataclass_fields__))
    if unknown:
        raise OptionError(f"unknown training option(s): {', '.join(unknown)}")
    return values


class OptionsFile:
    """Mixin of the trainers' config dataclasses: ``Config.load(path, **overrides)`` reads, builds and checks."""

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides):
        config = cls(**read_options(cls, path, overrides))
        config.check()
        return config

    def check(self) -> None:
        """Raise an ``OptionError`` for values that do not go together (the fields' types are the dataclass's)."""


@dataclass
class RecipeConfig(OptionsFile):
    """The base of the recipes' config dataclasses (``acutance train NAME --config FILE``): every field is
    optional in the file and an unknown key is refused. The fields here are the ones every recipe has; a
    recipe's own fields follow them."""

    seed: int = 0  # every random draw of the run (data, masks, initial weights) follows from it
    threads: int = 1  # torch threads (0: torch's own setting); one by default, so two runs share 2 cores
