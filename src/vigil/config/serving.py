"""Settings of the serving rooms: the HTTP server, the seed's zerorpc servers, media roots, the model store and
data folder, input limits, Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from vigil.config.section import Section
from vigil.imaging.images import ImageLimits
from vigil.registry.store import default_home


class ServerConfig(Section):
    host: str = Field("127.0.0.1", title="HTTP host", description="address the HTTP API binds to")
    port: int = Field(5000, ge=1, le=65535, title="HTTP port", description="port of the HTTP API")
    api_key: str = Field("", title="API key", description="key needed for every call; empty: none")
    admin_key: str = Field("", title="Admin key", description="key needed for gallery and model changes; empty: none")
    allow_remote_without_key: bool = Field(False, title="Allow remote without key",
                                           description="permit a non-loopback host when no api_key is set")
    body_timeout_s: float = Field(15.0, gt=0, title="Body timeout",
                                  description="seconds to send the whole request body (slower: 408)")
    header_timeout_s: float = Field(8.0, gt=0, le=300, title="Header timeout",
                                    description="seconds a connection gets to send a request's headers (slower: "
                                                "closed)")
    failed_keys_per_min: int = Field(60, ge=1, title="Wrong keys a minute",
                                     description="wrong keys or logins from one address within a minute before it "
                                                 "gets 429 for everything (until the first is a minute old)")
    keyed_docs: bool = Field(True, title="Keyed docs",
                             description="with an api_key set, /docs, /openapi.json and /metrics need it too")
    request_timeout_s: float = Field(30.0, gt=0, title="Request timeout", description="seconds before a 500 timeout")
    queue_size: int = Field(64, ge=1, title="Queue size", description="requests waiting per model before 503")
    max_in_flight: int = Field(128, ge=1, title="Max in flight",
                               description="HTTP requests handled at once; more get 503 + Retry-After, body unread")
    max_batch: int = Field(4, ge=1, le=64, title="Max batch",
                           description="most queued images one detector run takes together (1: no batching)")
    workers: int = Field(0, ge=0, le=16, title="Inference workers",
                         description="detector runs at once (0: one per core; with [detect] threads = 0 each run "
                                     "then gets cores / workers threads)")
    retry_after_s: int = Field(1, ge=1, title="Retry-After", description="seconds a 503 tells the client to wait")
    graceful_shutdown_s: float = Field(10.0, gt=0, title="Graceful shutdown",
                                       description="seconds in-flight requests get to finish after SIGTERM")
    log_format: Literal["json", "text"] = Field("json", title="Log format",
                                                description="json: one object per line on stderr; text: plain")


class RpcConfig(Section):
    objects: str = Field("tcp://127.0.0.1:4242", title="Objects endpoint", description="zerorpc detect_objects")
    faces: str = Field("tcp://127.0.0.1:4243", title="Faces endpoint", description="zerorpc detect_faces")
    heartbeat_s: float = Field(60, gt=0, title="Heartbeat", description="zerorpc heartbeat in seconds (seed: 60)")
    mount_point: str = Field("", title="Mount point",
                             description="prefix added to client paths before reading (relative: to this file)")
    conseq_images_to_skip: int = Field(0, ge=0, title="Frames to skip",
                                       description="reuse labels for frames this close on one monitor (0: off)")
    enabled: bool = Field(True, title="Enabled", description="start the zerorpc servers with `vigil serve`")
    allow_remote: bool = Field(False, title="Allow remote",
                               description="permit non-loopback tcp endpoints (zerorpc has no keys: trusted LAN only)")


class MediaConfig(Section):
    roots: list[Path] = Field(default_factory=list, title="Media roots",
                              description="folders that paths sent over RPC may point into")


class StoreConfig(Section):
    home: Path = Field(default_factory=default_home,
                       title="Model cache", description="where model files are downloaded and verified")
    data_dir: Path = Field(Path("data"), title="Data folder", description="gallery database and other state")


class LimitsConfig(Section):
    max_bytes: int = Field(50 * 1024 * 1024, gt=0, title="Max bytes", description="largest accepted upload or file")
    max_pixels: int = Field(33_177_600, gt=0, title="Max pixels",
                            description="largest accepted image (w × h); default 8K UHD 7680x4320, above any camera")
    decode_budget_mb: int = Field(512, ge=16, title="Decode budget",
                                  description="MiB of decoded pixels (w × h × 3) held by decodes running at once")
    max_entries: int = Field(256, ge=1, title="Max entries",
                             description="entries per detect_faces / /v2/faces/label call; more are refused")
    max_labels: int = Field(64, ge=1, title="Max labels",
                            description="labels per entry in detect_faces / /v2/faces/label; more are refused")
    label_jobs: int = Field(0, ge=0, title="Labelling jobs",
                            description="labelling jobs (2 person labels each) queued or running at once across "
                                        "every detect_faces / /v2/faces/label caller, handed out in turns "
                                        "(0: one fewer than the face workers, at least 1; on Ray: max_replicas)")
    max_paths: int = Field(1000, ge=1, title="Max paths",
                           description="paths per detect_objects / /v2/detect/paths call; more are refused")
    max_enroll_images: int = Field(32, ge=1, title="Max enrolment images",
                                   description="images per enrolment call; more are refused")
    formats: list[str] = Field(["JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF"], title="Formats",
                               description="image formats accepted (Pillow names)")


    def image_limits(self) -> ImageLimits:
        return ImageLimits(self.max_bytes, self.max_pixels, frozenset(self.formats), self.decode_budget_mb << 20)


class RayConfig(Section):
    """`vigil serve --ray`: one Ray Serve deployment per task (the scale extra)."""

    address: str = Field("auto", title="Ray address",
                         description="cluster to join ('auto': a running one, else start a local one)")
    min_replicas: int = Field(1, ge=0, title="Minimum replicas",
                              description="replicas per task deployment, at least (a task loaded on first use: 0)")
    max_replicas: int = Field(2, ge=1, title="Maximum replicas", description="replicas per task deployment, at most")
    target_ongoing_requests: float = Field(4.0, gt=0, title="Target ongoing requests",
                                           description="requests per replica the autoscaler aims at")
    replica_cpus: float = Field(1.0, gt=0, title="CPUs per replica", description="CPUs Ray reserves per task replica")
    max_batch_size: int = Field(4, ge=1, le=64, title="Max batch",
                                description="most requests one task run takes together (Serve's batching), unless "
                                            "the task sets its own limit")
    batch_wait_s: float = Field(0.005, ge=0, title="Batch wait",
                                description="seconds a task replica waits to fill a batch")
    camera_cpus: float = Field(0.5, gt=0, title="CPUs per camera",
                               description="CPUs Ray reserves per camera actor (decoding and tracking; the models "
                                           "run in the task deployments)")
