"""Files and folders: which paths are images, and writes that never leave a half-written file."""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from acutance.errors import ImageReadError, ImageWriteError

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})
# What link() reports on file systems (FAT, some network and FUSE mounts) that have no hard links.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP})


def is_image_path(path: str | os.PathLike) -> bool:
    """True if the path's extension is one we read, ignoring case (``.PNG`` counts)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | os.PathLike, *, recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """``(images, skipped)``: image files in ``folder`` sorted by path, and the other files.

    Hidden files (``.name``, e.g. ``.DS_Store`` or an interrupted write's temp file) count as skipped.
    """
    root = Path(folder)
    if not root.is_dir():
        reason = "no such folder" if not root.exists() else "not a folder"
        raise ImageReadError(f"cannot list images in {root}: {reason}")
    entries = root.rglob("*") if recursive else root.iterdir()
    images: list[Path] = []
    skipped: list[Path] = []
    for entry in entries:
        if not entry.is_file():
            continue
        if is_image_path(entry) and not entry.name.startswith("."):
            images.append(entry)
        else:
            skipped.append(entry)
    return sorted(images), sorted(skipped)


def check_writable_output(path: str | os.PathLike, *, overwrite: bool) -> Path:
    """Raise ``ImageWriteError`` now if ``path`` cannot be written, so a CLI fails before computing."""
    out = Path(path)
    if out.is_dir():
        raise ImageWriteError(f"cannot write {out}: it is a folder")
    if out.exists() and not overwrite:
        raise ImageWriteError(f"{out} exists; pass --overwrite to replace it")
    folder = out.parent
    if not folder.is_dir():
        raise ImageWriteError(f"cannot write {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ImageWriteError(f"cannot write {out}: folder {folder} is not writable")
    return out


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder, then rename it into place.

    Readers see either the old file or the complete new one, never a partial write; on any failure the
    temp file is removed. The temp name starts with '.' (hidden) and keeps the extension.
    """
    out = check_writable_output(path, overwrite=overwrite)
    temp = out.with_name(f".{out.stem}.{secrets.token_hex(6)}.tmp{out.suffix}")
    try:
        # os.open with mode 0o666 honours the umask, unlike tempfile.mkstemp's 0o600.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _move_into_place(temp, out, overwrite=overwrite)
    except ImageWriteError:
        temp.unlink(missing_ok=True)
        raise
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise ImageWriteError(f"cannot write {out}: {error.strerror or error}") from error
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return out


def _move_into_place(temp: Path, out: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, out)
        return
    # A hard link fails if ``out`` appeared since the check: no race can clobber a file the user kept.
    try:
        os.link(temp, out)
    except FileExistsError:
        raise ImageWriteError(f"{out} exists; pass --overwrite to replace it") from None
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        # A file system without hard links: check, then rename.
        if out.exists():
            raise ImageWriteError(f"{out} exists; pass --overwrite to replace it") from None
        os.replace(temp, out)
        return
    temp.unlink()
