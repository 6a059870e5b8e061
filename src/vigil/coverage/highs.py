"""A quiet HiGHS instance: the first one a process makes prints a banner on stdout, which is swallowed."""

from __future__ import annotations

import os
import sys
import threading

import highspy

__all__ = ["quiet_highs"]

_banner_lock = threading.Lock()
_banner_shown = False


def quiet_highs() -> highspy.Highs:
    """A new ``highspy.Highs``; the banner of the process's first one does not reach stdout."""
    global _banner_shown
    with _banner_lock:
        if _banner_shown:
            return highspy.Highs()
        _banner_shown = True
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        return h
