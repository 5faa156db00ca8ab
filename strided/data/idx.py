"""The IDX file format of the MNIST family, gzip-compressed or raw.

    magic: 0x00 0x00 <type code> <number of dimensions>     (big-endian, 4 bytes)
    dims:  one big-endian uint32 per dimension
    data:  the values, big-endian, row-major

MNIST images are type 0x08 (uint8) with 3 dimensions (magic 0x00000803 = 2051), labels uint8 with
one (0x00000801 = 2049). Every problem (missing file, broken gzip, wrong magic, too few or too many
bytes) is a DatasetError naming the file: nothing half-read is returned.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from .dataset import DatasetError

GZIP_MAGIC = b"\x1f\x8b"
HEADER_BYTES = 4
DIM_BYTES = 4
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}
IDX_CODES = {np.dtype(t): code for code, t in IDX_TYPES.items()}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def read_bytes(path) -> bytes:
    """The file's content, decompressed when it starts with the gzip magic (whatever its name)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from error
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except EOFError as error:
        raise DatasetError(f"{path}: truncated gzip file (the download or copy was cut short)") from error
    except (OSError, zlib.error) as error:
        raise DatasetError(f"{path}: damaged gzip data ({error})") from error


def parse_idx(data: bytes, name: str = "IDX data", magic: int | None = None) -> np.ndarray:
    """Bytes of an IDX file -> array in native byte order. ``magic`` (e.g. IMAGES_MAGIC) is checked if given."""
    if len(data) < HEADER_BYTES:
        raise DatasetError(f"{name}: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:HEADER_BYTES], "big")
    if magic is not None and found != magic:
        kind = {IMAGES_MAGIC: "IDX images", LABELS_MAGIC: "IDX labels"}.get(magic, "IDX")
        raise DatasetError(f"{name}: wrong magic number 0x{found:08x}, expected 0x{magic:08x} ({kind})")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise DatasetError(f"{name}: not an IDX file (magic number 0x{found:08x})")
    dtype = np.dtype(IDX_TYPES[data[2]]).newbyteorder(">")
    ndim = data[3]
    header = HEADER_BYTES + DIM_BYTES * ndim
    if len(data) < header:
        raise DatasetError(f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=HEADER_BYTES))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DatasetError(f"{name}: {what}: the header promises shape {shape} ({expected} bytes), "
                           f"the file holds {len(data)} bytes")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def read_idx(path, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or raw) into an array; see ``parse_idx``."""
    return parse_idx(read_bytes(path), name=str(path), magic=magic)


def write_idx(path, array, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip-compressed when ``compress`` (default: the name ends in .gz)."""
    path = Path(path)
    array = np.asarray(array)
    if array.dtype not in IDX_CODES:
        raise ValueError(f"write_idx: dtype {array.dtype} has no IDX type code "
                         f"(use one of {sorted(map(str, IDX_CODES))})")
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
