"""VQD on real footage: every fault class is detected, healthy footage raises none, blur is baseline-relative."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.health.vqd import FAULTS, Baseline, diagnose_frames, learn, sample_keyframes
from vigil.sim import media

CLIP = {"duration": 3.0, "gop": 10}   # 10 fps (vtest) / 15 fps (tree): 3+ keyframes per clip
LABEL = {"black": "signal_loss", "blue": "signal_loss"}


def keyframes(path, n: int = 3) -> list[np.ndarray]:
    return sample_keyframes(str(path), n, timeout=10)


def healthy(source: str, start: float) -> list[np.ndarray]:
    return keyframes(media.healthy_clip(source=source, start=start, **CLIP))


@pytest.fixture(scope="module")
def baselines() -> dict[str, Baseline]:
    """Each footage learns its baseline from two healthy segments, as a deployed camera would."""
    out = {}
    for source, starts in (("vtest", (0.0, 40.0)), ("tree", (0.0, 14.0))):
        b = None
        for start in starts:
            b = learn(b, diagnose_frames(healthy(source, start), b))
        assert b is not None and b.samples == len(starts) and b.reference is not None
        out[source] = b
    return out


@pytest.mark.parametrize("source,severity", [("vtest", 2), ("tree", 1)])
@pytest.mark.parametrize("fault", media.FAULTS)
def test_every_fault_class_is_detected(baselines, source, severity, fault):
    # frozen levels 1-2 keep live temporal noise on the still picture: that is not frozen (see test_vqd_eval)
    severity = 3 if fault == "frozen" else severity
    clip = media.fault_clip(fault, severity=severity, source=source, start=20.0, **CLIP)
    diag = diagnose_frames(keyframes(clip), baselines[source])
    expected = LABEL.get(fault, fault)
    assert diag.faults == (expected,), diag.explanation
    assert any(line.startswith(expected) for line in diag.explanation)


def test_fault_names_are_the_published_ones():
    assert FAULTS == ("signal_loss", "frozen", "dark", "bright", "noise", "covered", "blur", "color_cast", "moved")
    assert {LABEL.get(f, f) for f in media.FAULTS} == set(FAULTS)


@pytest.mark.parametrize("source,start", [("vtest", 8.0), ("vtest", 33.0), ("vtest", 62.0), ("tree", 5.0),
                                          ("tree", 10.0), ("tree", 21.0)])
def test_healthy_real_footage_raises_no_fault(baselines, source, start):
    frames = healthy(source, start)
    with_baseline = diagnose_frames(frames, baselines[source])
    assert with_baseline.faults == (), with_baseline.explanation
    assert "verdict: no fault" in with_baseline.explanation and with_baseline.confidence == "medium"
    first_look = diagnose_frames(frames)          # before any baseline: absolute limits only
    assert first_look.faults == (), first_look.explanation


def test_blur_is_judged_against_the_cameras_own_baseline(baselines):
    soft = keyframes(media.fault_clip("blur", severity=1, source="vtest", start=20.0, **CLIP))
    # A mild defocus passes the absolute limit that applies before a baseline exists...
    assert "blur" not in diagnose_frames(soft).faults
    # ...but on a camera that learned a sharp picture it is a fault,
    sharp_cam = diagnose_frames(soft, baselines["vtest"])
    assert sharp_cam.faults == ("blur",)
    assert "baseline" in next(x for x in sharp_cam.explanation if x.startswith("blur"))
    # while a camera whose normal picture is that soft is fine.
    soft_cam = learn(None, diagnose_frames(keyframes(media.fault_clip("blur", severity=1, source="vtest",
                                                                      start=45.0, **CLIP))))
    assert soft_cam.samples == 1
    assert diagnose_frames(soft, soft_cam).faults == ()


def test_moved_is_judged_only_when_other_checks_pass(baselines):
    dark = keyframes(media.fault_clip("dark", severity=1, source="vtest", start=20.0, **CLIP))
    diag = diagnose_frames(dark, baselines["vtest"])
    assert diag.faults == ("dark",)
    assert diag.metrics["ecorr"] < 0.7          # the edges no longer match, yet "moved" is not claimed
    assert "moved: not judged (other faults)" in diag.explanation


def test_baseline_learns_only_from_fault_free_looks(baselines):
    b = baselines["vtest"]
    blurred = diagnose_frames(keyframes(media.fault_clip("blur", source="vtest", start=20.0, **CLIP)), b)
    assert learn(b, blurred) is b
    again = learn(b, diagnose_frames(healthy("vtest", 50.0), b))
    assert again.samples == b.samples + 1
    restored = Baseline.load(again.samples, again.to_json()["stats"], again.reference_png())
    assert restored.stats == pytest.approx(again.to_json()["stats"])
    assert np.array_equal(restored.reference, again.reference)


def test_no_frames_is_signal_loss_and_bad_frames_are_rejected():
    assert diagnose_frames([]).faults == ("signal_loss",)
    with pytest.raises(ValueError, match="BGR"):
        diagnose_frames([np.zeros((10, 10), np.uint8)])
