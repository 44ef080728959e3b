"""``acutance train METHOD``: train a model on your own images. Each method registers its own sub-command."""

from __future__ import annotations

import argparse
import importlib

# Explicit list; each module has ``register(train_subparsers)``.
TRAIN_MODULES = (
    "acutance.raisr.train_cli",
    "acutance.lut.train_cli",
    "acutance.deep.train_cli",
    "acutance.edgesr.train_cli",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model on your own images (raisr, blade, ...)",
        description="Train a model on folders of clean images. 'acutance train METHOD --help' for details.",
    )
    methods = parser.add_subparsers(dest="method", metavar="METHOD")
    for name in TRAIN_MODULES:
        importlib.import_module(name).register(methods)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
