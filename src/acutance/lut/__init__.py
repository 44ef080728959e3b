"""Look-up-table super-resolution: SR-LUT / MuLUT-style tables with a numba runtime (no torch at run time).

``runtime`` loads model files and upscales; ``kernels`` holds the 4-simplex interpolation; ``fit`` fits
tables by least squares on the CPU; ``train`` (torch, lazily imported) trains tiny nets and converts them.
"""
