"""Named enhancers: descriptors, the registry, and the models that need no training."""
