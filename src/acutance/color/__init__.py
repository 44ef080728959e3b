"""Colour conversions that match MATLAB, so metrics agree with published numbers."""

from acutance.color.ycbcr import rgb_to_gray, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb

__all__ = ["rgb_to_gray", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb"]
