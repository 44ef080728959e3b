"""Faces: detect, align, restore and paste back (extra ``faces``).

Modules, each a step of the pipeline (METHODS.md section 6):

- ``detect``: dlib HOG/CNN detection, 68-point landmarks and the 5 template points (``detect_faces``, ``Face``)
- ``align``: similarity transform to the 512x512 FFHQ template and back (``align_face``, ``inverse_warp``)
- ``paste``: feathered face mask, colour matching, fidelity blend onto the background (``paste_back``)
- ``enhance``: the whole pipeline on an image (``enhance_faces``) with any restorer callable
- ``restorer``, ``arch``, ``train``: the face restorer networks; ``identity``, ``quality``: measurement

Nothing is imported here, so ``import acutance.faces`` costs nothing and needs no dlib.
"""
