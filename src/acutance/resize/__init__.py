"""Resampling: a MATLAB-exact ``imresize`` (the field's reference for making and scoring LR images)."""

from acutance.resize.matlab import METHODS, imresize, output_size

__all__ = ["METHODS", "imresize", "output_size"]
