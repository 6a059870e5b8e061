"""Detection from any mounting: a large vehicle crossing a high view is found on whole-frame rounds."""

from __future__ import annotations

import subprocess

from vigil.analytics.detect import Detector
from vigil.analytics.pipeline import AnalyzeOptions, analyze


def test_a_van_filling_a_sixth_of_a_high_view_crossing_it_is_a_vehicle_event(vtest, tmp_path):
    # The parked van of vtest.avi (real pixels), enlarged 4x to fill ~16% of the frame, driven across a still
    # plaza (with sensor grain) from the left edge: only it moves, so motion gives one large region.
    clip = tmp_path / "van.mp4"
    graph = ("[0]split[bg][v];[bg]loop=loop=-1:size=1:start=0,noise=alls=3:allf=t[still];"
             "[v]crop=76:58:650:43,scale=304:232,loop=loop=-1:size=1:start=0[van];"
             "[still][van]overlay=x='-304+t*215':y=300:shortest=1")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "10", "-i", str(vtest), "-t", "5",
                    "-filter_complex", graph, "-t", "5", "-c:v", "libx264", "-preset", "veryfast", "-g", "10",
                    "-an", str(clip)], check=True, timeout=120)
    det = Detector.load()
    an = analyze(str(clip), det, options=AnalyzeOptions(camera="high"))
    vehicles = [e for e in an.events if e.label in ("car", "truck", "bus")]
    assert vehicles, [(e.label, e.offset_s) for e in an.events]
    assert det.full_frames >= 1                       # the large region was judged on the whole frame
    box = vehicles[0].box
    assert (box[2] - box[0]) * (box[3] - box[1]) > 0.08  # the whole van, not a crop's slice of it
