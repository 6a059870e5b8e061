"""The simulated camera fleet used by the demo, the tests and the benchmarks.

* :mod:`vigil.sim.fleet` – :class:`~vigil.sim.fleet.Fleet`: N RTSP cameras on loopback (start here);
* :mod:`vigil.sim.faults` – fault names, the ``--faults`` SPEC, the reason a prober must report;
* :mod:`vigil.sim.media` – real-footage clips, healthy or with a picture fault (FFmpeg filters);
* :mod:`vigil.sim.rtsp`, :mod:`vigil.sim.stream`, :mod:`vigil.sim.onvif` – one camera's wire protocols;
* :mod:`vigil.sim.shard`, :mod:`vigil.sim.control`, :mod:`vigil.sim.register`, :mod:`vigil.sim.cli` – plumbing.

See docs/sim-and-probe.md.
"""
