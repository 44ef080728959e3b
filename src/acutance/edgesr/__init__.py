"""edge-SR (Michelini et al., "edge-SR: Super-Resolution for the Masses", WACV 2022): single-layer SR.

``arch`` defines eSR-MAX / eSR-TM / eSR-TR / eSR-CNN as torch modules (extra ``train``); ``train`` trains
them under the SR protocol; ``runtime`` loads model files and upscales without torch (onnxruntime or
OpenCV for the convolutions, ``kernels`` for the numba max/softmax + pixel shuffle). See docs/edge_sr.md.
"""
