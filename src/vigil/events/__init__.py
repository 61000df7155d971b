"""Events: building them from frames (open/update/end per camera and label), the log, MQTT, the folder watcher."""
