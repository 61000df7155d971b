"""A real RTSP server for the tests: GStreamer's RTSP server (Debian: gir1.2-gst-rtsp-server-1.0, python3-gi,
gstreamer1.0-plugins-good/-ugly) serving a moving test pattern as H.264 at 320×240, 10 frames a second, on
rtsp://127.0.0.1:PORT/cam. It quits after LIFETIME seconds, which is how the tests make a stream drop.

Run by Debian's own interpreter (/usr/bin/python3, where python3-gi lives), not the project's virtualenv:
    /usr/bin/python3 tests/tracks/rtsp_server.py PORT LIFETIME
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = ("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1 "
            "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 )")


def main() -> None:
    port, lifetime = sys.argv[1], float(sys.argv[2])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    server.attach(None)
    loop = GLib.MainLoop()
    GLib.timeout_add(int(lifetime * 1000), loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
