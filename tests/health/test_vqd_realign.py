"""VQD "moved" on featureless views: the low-frequency re-aim search (no feature points, no edges needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vigil.health import vqd_eval as ev
from vigil.health import vqd_metrics as vm
from vigil.health.vqd import diagnose_frames, learn

SOURCES, VARIANTS = ev.load_set()


def variant(key: str) -> ev.Variant:
    return next(v for v in VARIANTS if v.key == key)


def wall(seed: int = 0) -> np.ndarray:
    """A featureless wall: smooth shading, a darker patch in a corner, faint grain (analysis size, float32)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:180, 0:320].astype(np.float32)
    img = 150 + 20 * np.sin(x / 90.0) + 12 * np.cos(y / 50.0)
    img[:60, :45] -= 25
    img = cv2.GaussianBlur(img, (0, 0), 4.0)
    return (img + rng.normal(0, 0.7, img.shape)).astype(np.float32)


def aimed(img: np.ndarray, *, zoom: float = 1.0, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """``img`` as a camera re-aimed by ``zoom`` about the centre and shifted by (dx, dy) pixels would see it."""
    h, w = img.shape
    forward = np.float32([[zoom, 0, w / 2 * (1 - zoom) + dx], [0, zoom, h / 2 * (1 - zoom) + dy]])
    return cv2.warpAffine(img, forward, (w, h), borderMode=cv2.BORDER_REFLECT)


def test_a_featureless_wall_has_too_few_edges_for_the_edge_check():
    assert (cv2.Canny(wall().astype(np.uint8), 50, 150) > 0).mean() < 0.02


@pytest.mark.parametrize("zoom,dx,dy", [(1.0, 16, 0), (1.0, 0, 10), (1.07, -12, 6), (1.14, 0, 0)])
def test_a_re_aimed_wall_lines_up_only_after_the_re_aim(zoom, dx, dy):
    ref = wall()
    r = vm.realign(ref, aimed(wall(1), zoom=zoom, dx=dx, dy=dy))
    assert r.ratio < 0.45 and r.displacement > 4, r
    assert r.pose[0] == pytest.approx(zoom, abs=0.04)


def test_a_fixed_wall_with_something_moving_in_front_is_not_re_aimed():
    ref = wall()
    look = wall(2)
    look[90:150, 150:260] = 60.0          # a dark object a fifth of the frame wide put on the table
    r = vm.realign(ref, look)
    assert r.ratio > 0.9 and r.pose == (1.0, 0.0, 0, 0), r
    assert r.matched > 0.7


def test_the_reference_itself_needs_no_re_aim():
    ref = wall()
    r = vm.realign(ref, ref.copy())
    assert (r.ratio, r.pose, r.displacement) == (1.0, (1.0, 0.0, 0, 0), 0.0)
    assert r.matched > 0.95            # the outermost ring of pixels has no neighbour to interpolate with


def test_a_look_of_another_size_is_compared_at_the_reference_size():
    ref = wall()
    big = cv2.resize(aimed(wall(3), dx=16), (640, 360), interpolation=cv2.INTER_LINEAR)
    assert vm.realign(ref, big).ratio < 0.45


@pytest.fixture(scope="module")
def table() -> tuple[ev.Source, object]:
    """The held-out featureless table top and the baseline it learns from its own healthy segment."""
    src = SOURCES["motion"]
    return src, ev.camera_baseline(src)


def test_a_re_aimed_featureless_camera_is_moved_and_says_how_it_was_judged(table):
    src, base = table
    frames = ev.looks(ev.clip(src, 3.0, variant("moved/shift12")), src.window)[1]
    diag = diagnose_frames(frames, base)
    assert diag.metrics["ref_edges"] < 0.02                       # the edge check could not judge this view
    assert diag.faults == ("moved",), diag.explanation
    line = next(x for x in diag.explanation if x.startswith("moved"))
    assert "low-frequency layout" in line and "of the frame then agrees" in line
    assert 0.0 < diag.metrics["realign_matched"] <= 1.0


def test_the_healthy_featureless_table_is_not_moved(table):
    src, base = table
    for start in src.test:
        for frames in ev.looks(ev.clip(src, start), src.window):
            diag = diagnose_frames(frames, base)
            assert diag.faults == (), diag.explanation
            assert any(x.startswith("moved: judged on the low-frequency layout") for x in diag.explanation)


@pytest.fixture(scope="module")
def fog() -> tuple[ev.Source, object]:
    """The tuning plaza in fog: featureless (too few edges) while people walk through it."""
    src = SOURCES["vtest-fog"]
    if not src.available:
        pytest.skip("Debian opencv-doc is not installed")
    return src, ev.camera_baseline(src)


def test_the_foggy_plaza_is_judged_on_its_low_frequency_layout(fog):
    src, base = fog
    healthy = ev.looks(ev.clip(src, 25.0), src.window)[1]
    diag = diagnose_frames(healthy, base)
    assert diag.faults == () and diag.metrics["ref_edges"] < 0.02, diag.explanation
    moved = diagnose_frames(ev.looks(ev.clip(src, 25.0, variant("moved/shift6")), src.window)[1], base)
    assert moved.faults == ("moved",) and moved.metrics["realign_ratio"] < 0.45, moved.explanation


def test_a_foggy_scene_dimmed_to_a_flat_picture_is_dark_not_signal_loss(fog):
    src, base = fog
    dim = ev.looks(ev.clip(src, 25.0, variant("dark/x0.18")), src.window)[1]
    black = ev.looks(ev.clip(src, 25.0, variant("signal_loss/black-grain")), src.window)[1]
    diag = diagnose_frames(dim, base)
    assert diag.metrics["std_y"] < 3.0 and diag.faults == ("dark",), diag.explanation
    assert diagnose_frames(black, base).faults == ("signal_loss",)


def test_an_exposure_change_of_a_featureless_wall_is_no_re_aim():
    """Auto exposure scales the whole picture; on a shaded wall a median offset alone would leave its shading."""
    ref = wall()
    for gain in (0.9, 1.08, 1.15):
        r = vm.realign(ref, wall(4) * gain)
        assert r.ratio > 0.9, (gain, r)
    assert vm.exposure_gain(ref, ref * 1.1) == pytest.approx(1 / 1.1, rel=0.01)
    assert vm.exposure_gain(ref, ref * 3.0) == 0.67     # beyond any auto-exposure step: bounded


def _keyframe(img: np.ndarray, seed: int) -> np.ndarray:
    """A BGR keyframe of an analysis-size luma picture, with live sensor noise (so it is not frozen)."""
    noisy = img + np.random.default_rng(seed).normal(0, 2.0, img.shape)
    return cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


@pytest.fixture(scope="module")
def wall_camera():
    """A fixed camera on the featureless wall and the baseline it learned from two healthy looks."""
    base = None
    for seeds in ((10, 11, 12), (13, 14, 15)):
        base = learn(base, diagnose_frames([_keyframe(wall(s), s) for s in seeds], base))
    return base


def test_a_re_aim_in_every_keyframe_is_moved_one_keyframe_alone_is_not(wall_camera):
    def aimed_key(seed: int) -> np.ndarray:
        return _keyframe(aimed(wall(seed), zoom=1.07, dx=-12, dy=6), seed)

    still = diagnose_frames([_keyframe(wall(s), s) for s in (20, 21, 22)], wall_camera)
    assert still.faults == () and "realign_ratio" in still.metrics, still.explanation
    moved = diagnose_frames([aimed_key(s) for s in (23, 24, 25)], wall_camera)
    assert moved.faults == ("moved",), moved.explanation
    one = diagnose_frames([_keyframe(wall(26), 26), aimed_key(27), _keyframe(wall(28), 28)], wall_camera)
    assert one.faults == (), one.explanation        # the middle keyframe by ratio speaks for the look


def test_a_re_aim_between_the_grid_steps_is_found_by_the_finer_steps():
    r = vm.realign(wall(), aimed(wall(5), zoom=1.105, dx=-10, dy=6))
    assert r.pose[0] == pytest.approx(1.105, abs=0.02), r    # the grid alone has 1.07 or 1.14
    assert r.ratio < 0.3, r


def test_the_table_re_aimed_while_its_exposure_drifted_is_moved(table):
    """At 5 s the held-out table top is 5-7 % brighter than its reference: a gain the search must not mistake."""
    src, base = table
    got = []
    for v in (x for x in VARIANTS if x.label == "moved"):
        first, second = ev.looks(ev.clip(src, 5.0, v), src.window)
        got += [diagnose_frames(f, base).faults for f in ((second,) if v.midway else (first, second))]
    assert len(got) == 7 and got.count(("moved",)) >= 6, got      # 5 of 7 before the gain and the finer steps
