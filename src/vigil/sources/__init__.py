"""Where frames come from: a video file, a folder of frames, an RTSP or HTTP stream; motion gating."""
