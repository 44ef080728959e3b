"""Temporal video super-resolution: a small recurrent net over the shipped compact net, aligned by OpenCV DIS
flow, streaming in constant memory (``vsr-x4``, ``vsr-x2``; see docs/vsr.md).

- :mod:`acutance.vsr.runtime`: the model family (onnxruntime + OpenCV) and :class:`~acutance.vsr.runtime.Stream`;
- :mod:`acutance.vsr.flow`: DIS flow, warping, scene cuts;
- :mod:`acutance.vsr.video`: segments of ``acutance video`` with warm-up, so resumed runs match;
- :mod:`acutance.vsr.net`, :mod:`acutance.vsr.synth`, :mod:`acutance.vsr.train`: the network, the synthetic
  training clips and the recipe (``acutance train vsr``; torch, training only).
"""
