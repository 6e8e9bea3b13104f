"""Walking a tree by folder descriptors, the one way: a restored tree may be changed under the walk.

Names are resolved one component at a time relative to an open folder, never following a symlink
(``O_NOFOLLOW``), and every step back up checks it arrives where it came from, so a folder swapped
for a symlink mid-walk can never lead the walk (and what it does with privilege) out of the tree.
"""

from __future__ import annotations

import os

OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def up(fd: int, expected: tuple[int, int]) -> tuple[int, bool]:
    """Close ``fd`` and open its parent; also whether the parent is ``(st_dev, st_ino)``, the folder
    the walk came down from. The caller owns the new descriptor either way."""
    parent = os.open("..", OPEN_DIR, dir_fd=fd)
    info = os.fstat(parent)
    os.close(fd)
    return parent, (info.st_dev, info.st_ino) == expected
