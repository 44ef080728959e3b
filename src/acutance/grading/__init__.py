"""Colour looks: ``.cube`` 3D LUTs (``cube``), reference-based style transfer (``dncm``: our Neural-Preset-style
deterministic neural colour mapping; ``transfer``: the Reinhard and histogram-matching baselines), the colour
perturbations of DNCM's self-supervised training (``perturb``) and automatic colour enhancement (``enhance``).

Video and web callers: ``acutance.grading.dncm.style_transfer(rgb, ref, strength)`` returns the styled image;
``acutance.grading.dncm.compute_mapping(rgb, ref)`` returns a ``ColourMapping`` computed once (e.g. per shot)
and applied to every frame with ``mapping.apply(frame, strength)`` or exported with ``mapping.to_cube(...)``.
"""
