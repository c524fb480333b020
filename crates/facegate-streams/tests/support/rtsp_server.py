#!/usr/bin/python3
"""A real RTSP server for tests: GStreamer's gst-rtsp-server (Debian packages
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/bad, python3-gi).

usage: rtsp_server.py VIDEO.mp4 PORT [USER PASSWORD]

Serves VIDEO's H.264 track at rtsp://127.0.0.1:PORT/clip, in real time, each
client from the start (looping with --loop is not needed by the tests: a clip
that ends ends the session, as a camera that goes away would). With USER and
PASSWORD, clients must authenticate (HTTP basic, as cameras do). Prints
`ready` once listening. Run by /usr/bin/python3: Debian's python3-gi is built
for it, not for another Python on PATH.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    path, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    location = path.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux name=d d.video_0 ! queue '
        "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(False)
    if len(sys.argv) == 5:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        basic = GstRtspServer.RTSPAuth.make_basic(sys.argv[3], sys.argv[4])
        auth.add_basic(basic, token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role("user")
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
