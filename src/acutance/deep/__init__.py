"""Deep restoration networks: architectures (torch, extra ``train``), checkpoint loading, ONNX inference."""
