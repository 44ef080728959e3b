"""One home for training (extra ``train``: torch for the gradient-trained models).

- ``loop``: the one training loop (warm-up + cosine schedule, EMA, validation on a held-out split, resumable
  safetensors checkpoints, tqdm progress with ETA, JSON-lines log, seeded) and ``RunLog`` / ``resumable``
  for the trainers that are not gradient descent;
- ``checkpoint``: training state in safetensors (tensors + JSON; never a pickle);
- ``data``: training images, held-out splits, aligned (LR, HR) patches under the SR protocol or from an
  ``acutance degrade`` preset, luma pairs and crops;
- ``cli``: ``acutance train METHOD`` for every method.

Each method's recipe lives with the method (``raisr/train.py``, ``lut/train.py``, ``lut/lerf_train.py``,
``edgesr/train.py``, ``deep/train/recipe.py``, ``faces/train.py``, ``faces/quality_train.py``): its model, its
losses and a short call of ``loop.fit`` on the data module. Nothing here is imported at inference.
"""
