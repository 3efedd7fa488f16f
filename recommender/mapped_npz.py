"""Open an uncompressed `.npz` file (what `numpy.savez` writes) with its large arrays
memory-mapped rather than read (numpy and the standard library, no Django).

`numpy.load(..., mmap_mode="r")` maps a `.npy` file but reads every member of an `.npz`. The
members of an uncompressed zip are stored byte for byte, so each large array is mapped where
its data starts: the pages live in the operating system's file cache, shared by every process
that maps the same file, and are read only when a search touches them.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

#: members smaller than this are read into memory (mapping them would cost a page each)
MAP_FROM_BYTES = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip entry's local file header (30 bytes)


def load(path: str | Path, map_from_bytes: int = MAP_FROM_BYTES) -> dict[str, np.ndarray]:
    """{member name without ".npy": array}, arrays of at least `map_from_bytes` bytes as
    read-only `numpy.memmap`s of `path`. Compressed members are read, never mapped."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED or info.file_size < map_from_bytes:
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            raw.seek(info.header_offset)
            header = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
            name_length, extra_length = header[-2:]
            raw.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
            version = np.lib.format.read_magic(raw)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(raw)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(raw)
            if dtype.hasobject:
                raise ValueError(f"{path}: member {name} holds Python objects")
            arrays[name] = np.memmap(
                path, dtype, "r", offset=raw.tell(), shape=shape, order="F" if fortran else "C"
            )
    return arrays
