"""Write and open an uncompressed `.npz` file with its large arrays memory-mapped rather than
read (numpy and the standard library, no Django).

`numpy.load(..., mmap_mode="r")` maps a `.npy` file but reads every member of an `.npz`. The
members of an uncompressed zip are stored byte for byte, so each large array is mapped where
its data starts: the pages live in the operating system's file cache, shared by every process
that maps the same file, and are read only when a search touches them.

Where the data starts matters: `numpy.savez` puts it wherever the zip headers end, and an array
that is not aligned to its item size is multiplied without BLAS (a product with 100k rows took
76 ms instead of 1.3). `save` pads each member's local header (an extra field of the kind
Android's zipalign writes) so that every array starts at a multiple of `ALIGN` bytes; `load`
reads, rather than maps, an array that does not (files written by `numpy.savez`). The file
stays an ordinary `.npz` for `numpy.load`.

`load(..., random_access=True)` is for files whose rows are read a few at a time (a large
gallery's queries): each row a worker reads costs it a resident page, and by default a page is
not what it costs. A file that was just written or copied sits in the file cache in folios of up
to 2 MB, and a fault maps the whole folio: on Linux 6.18 (ext4) 200 random reads of a fresh
file raised a process's resident size by 306 MB. Cold, a fault reads ahead 60 KB. So the file's
cached pages are dropped first (`POSIX_FADV_DONTNEED`: pages that another process has mapped
stay) and its maps are advised `MADV_RANDOM`: 4 KB a row read, whatever a worker touches.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: members smaller than this are read into memory (mapping them would cost a page each)
MAP_FROM_BYTES = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip entry's local file header (30 bytes)
ALIGN = 64
_PADDING = 0xD935  # the extra field's id zipalign uses for padding
_ZIP64_EXTRA = 20  # what zipfile adds to the local header of a member over ZIP64_LIMIT


def save(target: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `target` as an uncompressed `.npz` whose arrays each start at a
    multiple of ALIGN bytes."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            data = member.getvalue()
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            zip64 = len(data) * 1.05 > zipfile.ZIP64_LIMIT
            # The .npy header is itself padded to 64 bytes: align where the member starts.
            start = (
                archive.fp.tell()
                + _LOCAL_HEADER.size
                + len(info.filename.encode())
                + 4
                + (_ZIP64_EXTRA if zip64 else 0)
            )
            padding = -start % ALIGN
            info.extra = struct.pack("<HH", _PADDING, padding) + bytes(padding)
            archive.writestr(info, data)


def load(
    path: str | Path, map_from_bytes: int = MAP_FROM_BYTES, random_access: bool = False
) -> dict[str, np.ndarray]:
    """{member name without ".npy": array}, arrays of at least `map_from_bytes` bytes as
    read-only `numpy.memmap`s of `path`. Compressed members are read, never mapped. With
    `random_access`, a page of the file costs a page of resident memory (module docstring)."""
    if random_access:
        drop_cached_pages(path)
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
            if raw.tell() % ALIGN:  # written by numpy.savez: mapped, it would be slow
                raw.seek(info.header_offset)
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            arrays[name] = np.memmap(
                path, dtype, "r", offset=raw.tell(), shape=shape, order="F" if fortran else "C"
            )
            if random_access:
                arrays[name]._mmap.madvise(mmap.MADV_RANDOM)
    return arrays


def drop_cached_pages(path: str | Path) -> None:
    """Ask the kernel to drop `path`'s pages from the file cache (the ones no process maps),
    writing them out first: a file written moments ago has dirty pages, which cannot be
    dropped. Advice only: where the file system refuses, the file is mapped as it is."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(descriptor)
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:  # e.g. a file system without writeback to wait for: nothing to drop
        pass
    finally:
        os.close(descriptor)
