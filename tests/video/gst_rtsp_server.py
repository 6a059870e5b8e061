"""A real RTSP server for tests: Debian's gst-rtsp-server serving an MP4 (H.264) without re-encoding.

Run with Debian's python3 (PyGObject): ``/usr/bin/python3 gst_rtsp_server.py PORT FILE.mp4``.
Serves ``rtsp://127.0.0.1:PORT/cam`` over TCP and UDP; prints ``READY`` once listening. With
``RTSP_AUTH=user:password`` in the environment (not argv: tests scan every command line for the
password), every request needs digest authentication (RFC 2617) with them.
"""

import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def _auth(user: str, password: str) -> GstRtspServer.RTSPAuth:
    auth = GstRtspServer.RTSPAuth()
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    auth.add_digest(user, password, token)
    return auth


def main() -> None:
    port, path = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( filesrc location={path} ! qtdemux ! h264parse ! "
                       "rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    if os.environ.get("RTSP_AUTH"):
        user, _, password = os.environ["RTSP_AUTH"].partition(":")
        server.set_auth(_auth(user, password))
        perms = (GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT)
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            "user, " + ", ".join(f"{p}=(boolean)true" for p in perms)))
    server.get_mount_points().add_factory("/cam", factory)
    server.attach(None)
    print("READY", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
