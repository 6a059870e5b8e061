"""VQD benchmark: diagnoses per second per core on 1080p keyframes, and precision/recall per fault class.

The labelled set is built from real footage (vtest.avi and tree.avi, Debian opencv-doc)
with ``vigil.sim.media``: for every test segment a healthy clip and each picture fault
at three severities. Each "camera" first learns its baseline from healthy segments at
other offsets, as a deployed camera would. Clips are cached (``$VIGIL_CACHE/media``).

Goals: >= 25 diagnoses/s on one core, precision and recall >= 0.95 for every class.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter

import cv2

from vigil.health import vqd_metrics
from vigil.health.vqd import FAULTS, Baseline, diagnose_frames, learn, sample_keyframes
from vigil.sim import media

# footage -> (offsets the baseline is learned from, offsets under test)
PLAN = {"vtest": ((0.0, 40.0, 70.0), (8.0, 20.0, 32.0, 50.0, 62.0)),
        "tree": ((0.0, 14.0), (4.0, 10.0, 20.0, 25.0))}
LABEL = {"black": "signal_loss", "blue": "signal_loss"}
CLIP = {"duration": 4.0, "gop": 10}
N_KEYFRAMES = 4


def learned_baseline(source: str, offsets: tuple[float, ...]) -> Baseline:
    """A baseline learned from healthy clips of ``source`` at ``offsets``."""
    b = Baseline()
    for off in offsets:
        frames = sample_keyframes(str(media.healthy_clip(source=source, start=off, **CLIP)), N_KEYFRAMES)
        b = learn(b, diagnose_frames(frames, b))
    return b


def labelled_cases() -> list[tuple[str, str, set[str]]]:
    """(footage, clip path, expected faults) for every clip of the labelled set."""
    cases = []
    for source, (_, tests) in PLAN.items():
        for off in tests:
            cases.append((source, str(media.healthy_clip(source=source, start=off, **CLIP)), set()))
            for fault in media.FAULTS:
                for sev in media.SEVERITIES:
                    path = media.fault_clip(fault, severity=sev, source=source, start=off, **CLIP)
                    cases.append((source, str(path), {LABEL.get(fault, fault)}))
    return cases


def accuracy() -> tuple[dict[str, tuple[float, float, int]], list[str]]:
    """Precision, recall and support per fault class, and the misclassified clips."""
    baselines = {src: learned_baseline(src, plan[0]) for src, plan in PLAN.items()}
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    wrong = []
    for source, path, truth in labelled_cases():
        got = set(diagnose_frames(sample_keyframes(path, N_KEYFRAMES), baselines[source]).faults)
        if not truth:
            tp["(healthy: no fault)"] += not got
            fn["(healthy: no fault)"] += bool(got)
        for f in FAULTS:
            tp[f] += f in got and f in truth
            fp[f] += f in got and f not in truth
            fn[f] += f in truth and f not in got
        if got != truth:
            wrong.append(f"{os.path.basename(path)}: expected {sorted(truth)}, got {sorted(got)}")
    table = {}
    for f in (*FAULTS, "(healthy: no fault)"):
        prec = tp[f] / (tp[f] + fp[f]) if tp[f] + fp[f] else 1.0
        rec = tp[f] / (tp[f] + fn[f]) if tp[f] + fn[f] else 1.0
        table[f] = (prec, rec, tp[f] + fn[f])
    return table, wrong


def throughput(seconds: float = 3.0) -> tuple[float, float, float]:
    """(diagnoses/s with analysis downscaling, naive full-resolution diagnoses/s, keyframe decodes/s), 1 core."""
    cv2.setNumThreads(1)
    clip = media.healthy_clip(source="vtest", start=10.0, duration=20.0, size=(1920, 1080), fps=25, gop=50)
    t0 = time.perf_counter()
    frames = sample_keyframes(str(clip), 10)
    decode_rate = len(frames) / (time.perf_counter() - t0)
    base = learn(None, diagnose_frames(frames[:3]))

    def rate() -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            diagnose_frames([frames[n % len(frames)]], base)
            n += 1
        return n / (time.perf_counter() - t0)

    fast = rate()
    saved, vqd_metrics.ANALYSIS_WIDTH = vqd_metrics.ANALYSIS_WIDTH, 1920
    try:
        naive = rate()
    finally:
        vqd_metrics.ANALYSIS_WIDTH = saved
    return fast, naive, decode_rate


def main() -> int:
    fast, naive, decode = throughput()
    print("VQD throughput on 1080p keyframes (one core)")
    print(f"  diagnoses/s (metrics at {vqd_metrics.ANALYSIS_WIDTH} px wide): {fast:8.1f}   goal >= 25")
    print(f"  baseline: same checks at full 1080p resolution: {naive:8.1f}   ratio {fast / naive:.1f}x")
    print(f"  keyframe decode (PyAV, skip_frame=NONKEY, bgr24): {decode:8.1f} keyframes/s")
    table, wrong = accuracy()
    print("\nPrecision and recall per fault class (vtest.avi + tree.avi, 3 severities, healthy clips included)")
    print(f"  {'fault':20s} {'precision':>9s} {'recall':>7s} {'clips':>6s}")
    for f, (p, r, n) in table.items():
        print(f"  {f:20s} {p:9.3f} {r:7.3f} {n:6d}")
    for line in wrong:
        print("  miss:", line)
    ok = fast >= 25 and all(p >= 0.95 and r >= 0.95 for p, r, _ in table.values())
    print("\ngoals met" if ok else "\ngoals NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
