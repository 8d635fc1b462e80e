"""Redis losing its last second of acknowledged writes, as a power cut would make it.

The embedded Redis keeps an append-only file synced every second (`appendfsync everysec`, the
default): a command is acknowledged before it is on the disk, and a machine that loses power
loses up to the last second of them. A SIGKILL loses nothing (the kernel still writes what
Redis handed it), so the chaos run makes the loss itself: it notes how long each of the
append-only files is, lets a second of writes go by, kills Redis, and cuts the files back to
the lengths it noted before Redis starts again and reads them.

valkey keeps several files (`appendonlydir/`, named in its manifest): a base written by a
rewrite, and the increments written since. Only increments are cut; one begun by a rewrite
during the second is emptied. A cut can fall inside a command: Redis loads such a file up to
its last whole command (`aof-load-truncated yes`, the default).
"""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"


def increments(data_dir: Path) -> dict[str, int]:
    """Each increment file the manifest names, and its length now."""
    directory = data_dir / DIRECTORY
    try:
        manifest = (directory / MANIFEST).read_text()
    except FileNotFoundError:
        return {}
    names = [line.split()[1] for line in manifest.splitlines()
             if line.startswith("file ") and line.split()[-1] == "i"]
    return {name: (directory / name).stat().st_size for name in names
            if (directory / name).exists()}


def cut_back(data_dir: Path, noted: dict[str, int]) -> int:
    """Every increment as long as it was when `noted` (empty if it began since); the bytes
    cut. Call with Redis stopped."""
    cut = 0
    for name, length in increments(data_dir).items():
        keep = min(noted.get(name, 0), length)
        os.truncate(data_dir / DIRECTORY / name, keep)
        cut += length - keep
    return cut
