"""From detections on frames to tracks: the tracker (on supervision's ByteTrack), zones, masks, lines, dwell,
loitering and stationary objects."""
