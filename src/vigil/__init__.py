"""Vigil: a city video-surveillance platform.

Vigil detects events, not identities: it never matches faces, reads plates,
collects phone or Wi-Fi identifiers, or tracks people across cameras.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
