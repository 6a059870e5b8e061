"""Fixtures for the analytics tests: real footage from Debian's opencv-doc, one detector per session."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.analytics.detect import Detector

DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _footage(name: str) -> Path:
    p = DATA / name
    if not p.exists():
        pytest.skip(f"{name} (Debian opencv-doc) is not installed")
    return p


@pytest.fixture(scope="session")
def vtest() -> Path:
    return _footage("vtest.avi")


@pytest.fixture(scope="session")
def tree() -> Path:
    return _footage("tree.avi")


@pytest.fixture(scope="session")
def detector() -> Detector:
    return Detector.load()


@pytest.fixture(scope="session")
def vtest_frame(vtest: Path) -> np.ndarray:
    """Frame 100 of vtest.avi (BGR): people crossing the plaza, two parked vehicles."""
    cap = cv2.VideoCapture(str(vtest))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
    ok, frame = cap.read()
    assert ok
    return frame
