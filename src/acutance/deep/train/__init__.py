"""Training of the deep SR networks (extra ``train``): typed TOML config, patch data, losses, the loop."""

from acutance.deep.train.config import SRTrainConfig, load_train_config

__all__ = ["SRTrainConfig", "load_train_config"]
