"""Video quality diagnostics (VQD): the public surface.

* :func:`diagnose_frames` - pure verdict on a few keyframes against a :class:`Baseline`;
* :func:`sample_keyframes` - keyframes of a URL or file, with timeouts;
* :func:`learn` - fold a healthy diagnosis into a camera's baseline.
"""

from __future__ import annotations

from vigil.health.vqd_rules import FAULTS, Baseline, Diagnosis, Thresholds, diagnose_frames, learn
from vigil.health.vqd_sample import sample_keyframes

__all__ = ["FAULTS", "Baseline", "Diagnosis", "Thresholds", "diagnose_frames", "learn", "sample_keyframes"]
