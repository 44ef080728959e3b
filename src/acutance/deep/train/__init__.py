"""The deep SR recipe (extra ``train``): typed TOML config, losses, and the recipe on ``acutance.train``."""

from acutance.deep.train.config import SRTrainConfig, load_train_config

__all__ = ["SRTrainConfig", "load_train_config"]
