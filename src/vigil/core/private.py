"""Private files: the home folder is 0700 and what Vigil writes in it is 0600.

The ``vigil`` command sets :data:`PRIVATE_UMASK` for its whole process, so files written later
(recordings by FFmpeg children, exports, reports) are private too; :func:`secure_home` tightens
a home folder made before that, or by another program.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "secure_home", "secure_file"]

PRIVATE_UMASK = 0o077

log = logging.getLogger("vigil.core.private")


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
        try:
            path.chmod(stat.S_IMODE(st.st_mode) & 0o700 | mode)
        except OSError as exc:  # a file system without modes (a mounted share): say so, keep going
            log.warning("cannot make %s private: %s", path, exc.strerror or exc)


def secure_file(path: Path) -> None:
    """Make a file we own readable by its owner only (no-op for a missing file or someone else's)."""
    _tighten(path, 0o600)


def secure_home(home: Path) -> None:
    """Create ``home`` as 0700 and make its entries private (folders 0700, files 0600; not recursive)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(home, 0o700)
    for entry in home.iterdir():
        _tighten(entry, 0o700 if entry.is_dir() and not entry.is_symlink() else 0o600)
