"""Face restoration networks (torch, extra ``train``): ``unet.FaceUNet`` (ours, shipped as ONNX) and
``gfpgan.GFPGANv1Clean`` (community GFPGAN v1.3/v1.4 checkpoints). Import the module you need."""
