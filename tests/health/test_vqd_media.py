"""The real-footage clip factory: H.264, cached, idempotent, safe for concurrent callers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import av
import pytest

from vigil.core.errors import InputError
from vigil.sim import media


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "media"


def test_concurrent_callers_get_one_valid_clip(cache):
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: media.fault_clip("dark", duration=2, gop=10, cache=cache), range(4)))
    assert len(set(paths)) == 1
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == [paths[0].name]
    with av.open(str(paths[0])) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264"
        keys = [p.is_keyframe for p in c.demux(st) if p.size]
    assert len(keys) == 20 and keys[0] and keys[10] and sum(keys) == 2
    assert media.fault_clip("dark", duration=2, gop=10, cache=cache) == paths[0]


def test_size_and_generated_screens(cache):
    clip = media.fault_clip("blue", duration=1, size=(320, 240), cache=cache)
    with av.open(str(clip)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="bgr24")
    assert frame.shape == (240, 320, 3)
    assert frame[..., 0].mean() > 200 and frame[..., 2].mean() < 30


def test_bad_arguments_are_input_errors(cache):
    with pytest.raises(InputError):
        media.fault_clip("smoke", cache=cache)
    with pytest.raises(InputError):
        media.fault_clip("blur", severity=7, cache=cache)
    with pytest.raises(InputError):
        media.healthy_clip(source="nope", cache=cache)


def test_filtered_clip_and_encoding_options(cache):
    clip = media.filtered_clip("eq=brightness=-0.4", label="dim", duration=1, gop=5, bitrate="500k", grain=4,
                               cache=cache)
    assert clip.name.startswith("vtest-dim-")
    assert media.filtered_clip("eq=brightness=-0.4", label="dim", duration=1, gop=5, bitrate="500k", grain=4,
                               cache=cache) == clip
    with av.open(str(clip)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    with pytest.raises(InputError):
        media.filtered_clip("eq;[x]movie=/etc/passwd", cache=cache)
    with pytest.raises(InputError):
        media.healthy_clip(bitrate="fast", cache=cache)
