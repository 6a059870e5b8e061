"""The VQD evaluation set: labelled fault variants of real footage, split by source, and its scoring.

The set is described by ``data/vqd/eval.json`` (the labels file): the footage
(*sources*, each marked ``tuning`` or ``held-out``) and the fault *variants*, each an
FFmpeg filter chain with its fault class. A source is a camera: it learns its baseline
from healthy segments (``learn``), then every test segment (``test``) is cut healthy
and with each variant applied. A test segment holds two *looks* of ``window`` seconds
(``gop`` is chosen so that each look has about three keyframes): a "midway" variant
starts at the second look, so its first look is healthy; the others are faulty in
both looks. Thresholds are to be chosen on tuning sources only; ``bench/vqd.py``
reports precision and recall per class on the held-out ones.

Clips are H.264, encoded once and cached under ``$VIGIL_CACHE/vqd-eval`` (else
``~/.cache/vigil/vqd-eval``); a clip's name is a hash of its FFmpeg arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from vigil.core.errors import NotFoundError, VigilError
from vigil.health.vqd_rules import FAULTS, Baseline, Diagnosis, diagnose_frames, learn
from vigil.health.vqd_sample import sample_timed

__all__ = ["DATA_DIR", "Score", "Source", "Variant", "camera_baseline", "clip", "evaluate", "load_set", "looks",
           "test_looks"]

DATA_DIR = Path(os.environ.get("VIGIL_VQD_DATA") or Path(__file__).resolve().parents[3] / "data" / "vqd")
HEALTHY = "(healthy: no fault)"


@dataclass(frozen=True)
class Source:
    """One camera's footage and how it is cut."""

    name: str
    path: Path
    split: str
    scene: str
    window: float
    gop: int
    learn: tuple[float, ...]
    test: tuple[float, ...]
    scale: int | None = None
    fixed: bool = True     # False: hand-held or drifting footage, not scored for "moved"
    condition: str = ""    # an FFmpeg filter applied to the footage first (the camera's own look: IR, grain)

    @property
    def available(self) -> bool:
        return self.path.is_file()


@dataclass(frozen=True)
class Variant:
    """A labelled fault: its class, a name, the FFmpeg filter chain and whether it starts midway."""

    label: str
    name: str
    vf: str
    midway: bool = False
    whole: bool = False    # the filter handles the onset itself (``{T}``) instead of an overlay

    @property
    def key(self) -> str:
        return f"{self.label}/{self.name}"


@dataclass
class Score:
    """Counts per fault class over looks, and the looks that were wrong."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    unjudged: Counter[str] = field(default_factory=Counter)   # misses the diagnosis itself called not judgeable
    looks: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, truth: set[str], got: set[str], what: str, unjudged: frozenset[str] = frozenset()) -> None:
        self.looks += 1
        for f in truth - got:
            self.unjudged[f] += f in unjudged
        if not truth:
            self.tp[HEALTHY] += not got
            self.fn[HEALTHY] += bool(got)
        for f in FAULTS:
            self.tp[f] += f in got and f in truth
            self.fp[f] += f in got and f not in truth
            self.fn[f] += f in truth and f not in got
        if got != truth:
            self.wrong.append(f"{what}: expected {sorted(truth) or 'no fault'}, got {sorted(got) or 'no fault'}")

    def table(self) -> dict[str, tuple[float, float, int]]:
        """``{class: (precision, recall, looks with that class)}``; the healthy row counts clean verdicts."""
        out = {}
        for f in (*FAULTS, HEALTHY):
            tp, fp, fn = self.tp[f], self.fp[f], self.fn[f]
            out[f] = (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0, tp + fn)
        return out

    def judgeable_recall(self, fault: str) -> float:
        """Recall over the looks the diagnosis could judge (it says so when a view lacks what a check needs)."""
        tp, fn = self.tp[fault], self.fn[fault] - self.unjudged[fault]
        return tp / (tp + fn) if tp + fn else 1.0


@cache
def load_set(path: str | None = None) -> tuple[dict[str, Source], tuple[Variant, ...]]:
    """The sources and variants of the labels file (``data/vqd/eval.json`` unless ``path``)."""
    spec = json.loads(Path(path or DATA_DIR / "eval.json").read_text())
    sources = {}
    for name, s in spec["sources"].items():
        file = Path(s["file"])
        sources[name] = Source(name, file if file.is_absolute() else DATA_DIR / file, s["split"], s["scene"],
                               float(s["window"]), int(s["gop"]), tuple(map(float, s["learn"])),
                               tuple(map(float, s["test"])), s.get("scale"), bool(s.get("fixed", True)),
                               s.get("condition", ""))
    variants = tuple(Variant(v["class"], v["name"], v["vf"], bool(v.get("midway")), bool(v.get("whole")))
                     for v in spec["variants"])
    return sources, variants


def _cache_dir() -> Path:
    root = Path(os.environ["VIGIL_CACHE"]) if os.environ.get("VIGIL_CACHE") else Path.home() / ".cache" / "vigil"
    path = root / "vqd-eval"
    path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def _probe(path: Path) -> tuple[int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=30, check=True)
    w, h = out.stdout.strip().split(",")[:2]
    return int(w), int(h)


def _size(src: Source) -> tuple[int, int]:
    w, h = _probe(src.path)
    if src.scale and w > src.scale:
        return src.scale, round(h * src.scale / w / 2) * 2
    return w, h


def _chain(src: Source, variant: Variant | None) -> str:
    w, h = _size(src)
    chain = [f"scale={w}:{h}"] if (w, h) != _probe(src.path) else []
    chain += [src.condition] if src.condition else []
    if variant is not None:
        vf = variant.vf.format(w=w, h=h, T=f"{src.window:g}", s=f"{w / 640:.3g}")
        if variant.midway and not variant.whole:
            vf = f"split[a][b];[b]{vf}[f];[a][f]overlay=enable='gte(t,{src.window:g})'"
        chain.append(vf)
    return ",".join([*chain, "format=yuv420p"])


def clip(src: Source, start: float, variant: Variant | None = None) -> Path:
    """The H.264 clip of ``src`` from ``start`` (two looks long) with ``variant`` applied, encoded once."""
    if not src.available:
        raise NotFoundError(f"{src.path} is missing (footage of VQD source {src.name})")
    args = ["-ss", f"{start:g}", "-i", str(src.path), "-t", f"{2 * src.window:g}", "-vf", _chain(src, variant),
            "-an", "-map_metadata", "-1", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
            "-g", str(src.gop), "-keyint_min", str(src.gop), "-sc_threshold", "0", "-bf", "0"]
    stat = src.path.stat()
    key = hashlib.sha1(repr((args, stat.st_size, int(stat.st_mtime))).encode()).hexdigest()[:12]
    label = variant.key.replace("/", "-") if variant else "healthy"
    out = _cache_dir() / f"{src.name}-{start:g}-{label}-{key}.mp4"
    if not out.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".mp4", dir=out.parent)
        os.close(fd)
        try:
            res = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, "-f", "mp4", tmp],
                                 capture_output=True, text=True, timeout=600)
            if res.returncode != 0 or os.path.getsize(tmp) == 0:
                raise VigilError(f"ffmpeg failed making {out.name}: {res.stderr.strip()[-400:]}")
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return out


def looks(path: Path, window: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The keyframes of a clip's first and second look (split at ``window`` seconds)."""
    frames = sample_timed(str(path), 64, timeout=60)
    first = [f for t, f in frames if (t or 0.0) < window - 1e-3]
    return first, [f for t, f in frames if (t or 0.0) >= window - 1e-3]


def camera_baseline(src: Source, diagnose: Callable[..., Diagnosis] = diagnose_frames) -> Baseline | None:
    """The baseline ``src`` learns from its healthy segments, look by look, as a deployed camera would."""
    base: Baseline | None = None
    for start in src.learn:
        for frames in looks(clip(src, start), src.window):
            if frames:
                base = learn(base, diagnose(frames, base))
    return base


def test_looks(src: Source, variants: tuple[Variant, ...]) -> Iterator[tuple[str, set[str], list[np.ndarray]]]:
    """``(what, expected faults, keyframes)`` for every look of every test clip of ``src``."""
    for start in src.test:
        for variant in (None, *(v for v in variants if src.fixed or v.label != "moved")):
            first, second = looks(clip(src, start, variant), src.window)
            label = {variant.label} if variant else set()
            name = variant.key if variant else "healthy"
            yield f"{src.name}@{start:g} {name} look 1", set() if variant and variant.midway else label, first
            yield f"{src.name}@{start:g} {name} look 2", label, second


def evaluate(split: str | None = None, *, names: tuple[str, ...] | None = None,
             diagnose: Callable[..., Diagnosis] = diagnose_frames,
             spec: tuple[dict[str, Source], tuple[Variant, ...]] | None = None) -> tuple[Score, list[str]]:
    """Score ``diagnose`` on the available sources of ``split`` (or ``names``); also the sources used."""
    sources, variants = spec or load_set()
    chosen = [s for s in sources.values() if (names is None or s.name in names)
              and (split is None or s.split == split) and s.available]
    score = Score()
    for src in chosen:
        base = camera_baseline(src, diagnose)
        for what, truth, frames in test_looks(src, variants):
            diag = diagnose(frames, base)
            got = set(diag.faults)
            unjudged = frozenset(f for f in truth for line in diag.explanation
                                 if line.startswith(f"{f}: not judged (too few"))
            score.add(truth, got if src.fixed else got - {"moved"}, what, unjudged)
    return score, [s.name for s in chosen]


def describe(sources: dict[str, Source]) -> list[dict[str, Any]]:
    """The sources as rows for a report."""
    return [{"name": s.name, "split": s.split, "scene": s.scene, "file": s.path.name, "available": s.available}
            for s in sources.values()]
