"""Video quality diagnostics (VQD): the public surface.

* :func:`diagnose_frames` - pure verdict on a few keyframes against a :class:`Baseline`;
* :func:`sample_keyframes` - keyframes of a URL or file, with timeouts;
* :func:`learn` - fold a healthy diagnosis into a camera's baseline;
* :func:`diagnose_camera` - sample a registered camera, learn its baseline, debounce and store
  its confirmed faults (``CameraStatus.faults``, ``QualityChange``);
* :func:`debounce` - the pure persistence step behind it.
"""

from __future__ import annotations

from vigil.health.vqd_camera import debounce, diagnose_camera, load_baseline, reset_baseline
from vigil.health.vqd_rules import FAULTS, Baseline, Diagnosis, Thresholds, diagnose_frames, learn
from vigil.health.vqd_sample import sample_keyframes

__all__ = ["FAULTS", "Baseline", "Diagnosis", "Thresholds", "debounce", "diagnose_camera", "diagnose_frames",
           "learn", "load_baseline", "reset_baseline", "sample_keyframes"]
