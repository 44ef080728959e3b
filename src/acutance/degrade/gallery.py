"""A contact sheet of HR/LR pairs so a person can look at what the degradation produces."""

from __future__ import annotations

import cv2
import numpy as np

from acutance.errors import OptionError

_GAP = 4
_PAIR_GAP = 14  # wider between pairs than inside one, so the eye groups HR with its LR
_LABEL_H = 22


def contact_sheet(pairs: list[tuple[np.ndarray, np.ndarray]], *, columns: int = 4, title: str = "") -> np.ndarray:
    """A float32 RGB image: each cell is an HR patch beside its LR patch enlarged by pixel repetition.

    Nearest-neighbour enlargement shows the LR pixels as they are (blur, noise, JPEG blocks), not smoothed.
    """
    if not pairs:
        raise OptionError("no pairs to put in a gallery")
    cell_h = max(hr.shape[0] for hr, _ in pairs)
    cell_w = max(hr.shape[1] for hr, _ in pairs)
    columns = max(1, min(columns, len(pairs)))
    rows = -(-len(pairs) // columns)
    sheet_w = columns * (2 * cell_w + _GAP) + (columns - 1) * _PAIR_GAP + 2 * _GAP
    sheet_h = _LABEL_H + rows * (cell_h + _GAP) + _GAP
    sheet = np.ones((sheet_h, sheet_w, 3), dtype=np.float32)
    for index, (hr, lr) in enumerate(pairs):
        row, col = divmod(index, columns)
        top = _LABEL_H + _GAP + row * (cell_h + _GAP)
        left = _GAP + col * (2 * cell_w + _GAP + _PAIR_GAP)
        big = cv2.resize(lr, (hr.shape[1], hr.shape[0]), interpolation=cv2.INTER_NEAREST).reshape(hr.shape)
        sheet[top : top + hr.shape[0], left : left + hr.shape[1]] = hr
        right = left + cell_w + _GAP
        sheet[top : top + big.shape[0], right : right + big.shape[1]] = big
    text = title or "each cell: HR patch | LR patch (pixels enlarged)"
    label = np.full((_LABEL_H, sheet_w, 3), 255, dtype=np.uint8)  # OpenCV draws text on 8-bit images only
    cv2.putText(label, text, (_GAP, _LABEL_H - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    sheet[:_LABEL_H] = label.astype(np.float32) / np.float32(255.0)
    return sheet
