"""Write a file so that a crash at any moment leaves either the old file or the new one, never half.

The bytes go to a temporary file in the same folder (so the final rename stays on one file
system), are flushed and fsync'ed to disk, and the temporary file is then renamed over the target
with os.replace, which is atomic on POSIX and Windows. The folder is fsync'ed too, so the rename
itself survives a power cut.
"""

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the data itself is already safe
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
