"""`vigil serve --ray [--ray-address ADDRESS]`: the same FastAPI app on Ray Serve (the `scale` extra).

One deployment per registered task (execute/on_ray.py: `detect`, `faces`, `classify`, `presence`, `crowd`, and any a
plugin registers), and an `ingress` that runs create_app (the very routes, keys, limits and error mapping of
`vigil serve`) over a RayExecutor. The ingress holds no model: it decodes, as the request's thread does in-process,
and sends every model run to its task's deployment. Each deployment is autoscaled between `[ray] min_replicas` and
`max_replicas` at `target_ongoing_requests`, each replica reserving `replica_cpus` (and running that many inference
threads); a task the in-process server loads on first use (TaskDef.preload false) starts at no replica and gets one
at its first request.

Events: this process (the driver, up until SIGTERM) runs the one event service over the deployments: the folder
watcher (`[watch] dirs`), the event log, MQTT and Home Assistant. Each `[cameras.<name>]` with a source runs in a
Ray actor of its own, spread over the nodes, its tracker's state staying there (events/camera_actors.py); its
events, zone and line counts, availability and sightings come back here and are stored and published as
in-process. The page's event list and snapshots read the event log, and so does the live event stream (the
ingress's log tail, events/log_tail.py, polls it while a stream is open); its Cameras view asks the camera actors.
What the ingress cannot show, since the service is not in its process: the watcher's last frames in `/v2/status`.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import ray
from ray import serve

from vigil.config.settings import VigilConfig
from vigil.events.camera_actors import LiveCameras, RayFeeds
from vigil.execute.on_ray import APP, RayExecutor, TaskReplica
from vigil.execute.ray_cluster import connect, portable
from vigil.serve.app import create_app
from vigil.serve.run import check_bind, start_events
from vigil.tasks.base import TaskDef
from vigil.tasks.discover import discover

log = logging.getLogger(__name__)


@serve.deployment(name="ingress", ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Ingress:
    def __init__(self, settings: dict[str, Any], tasks: dict[str, Any]) -> None:
        self.executor = RayExecutor(VigilConfig.model_validate(settings), tasks).setup()

    def __serve_build_asgi_app__(self) -> Any:
        app = create_app(self.executor)
        app.state.feeds = LiveCameras(self.executor.config.cameras)  # the Cameras view asks the camera actors
        return app


def application(config: VigilConfig) -> Any:
    """The bound Serve application: ingress → one deployment per registered task."""
    settings = portable(config.model_dump(mode="json"))
    tasks = {name: TaskReplica.options(name=name, **_task_options(config, task)).bind(settings, name)
             for name, task in discover().items()}
    return Ingress.options(autoscaling_config=_scaling(config, config.ray.min_replicas)).bind(settings, tasks)


def _scaling(config: VigilConfig, min_replicas: int) -> dict[str, Any]:
    r = config.ray
    return {"min_replicas": min_replicas, "max_replicas": r.max_replicas,
            "target_ongoing_requests": r.target_ongoing_requests}


def _task_options(config: VigilConfig, task: TaskDef) -> dict[str, Any]:
    """Autoscaled per `[ray]`; a task loaded on first use in-process starts at no replica here."""
    least = config.ray.min_replicas if task.preload(config) else 0
    return {"autoscaling_config": _scaling(config, least), "ray_actor_options": {"num_cpus": config.ray.replica_cpus}}


def start(config: VigilConfig, address: str) -> Any:
    """Deploy on the cluster at `address`, return once every deployment is up: the event service running here
    (the watcher, cameras on actors of their own), or None when nothing is watched."""
    check_bind(config)
    connect(address)
    serve.start(http_options={"host": config.server.host, "port": config.server.port})
    serve.run(application(config), name=APP, route_prefix="/")
    log.info("serving on Ray", extra={"url": f"http://{config.server.host}:{config.server.port}"})
    return start_events(config, RayExecutor.in_app(config).setup(), RayFeeds())


def stop(events: Any = None) -> None:
    """The event service first (its cameras' last events are stored), then the application."""
    if events is not None:
        events.stop()
    serve.delete(APP)


def serve_on_ray(config: VigilConfig, address: str) -> None:
    """`vigil serve --ray`: deploy, then wait for SIGTERM or SIGINT, take the application down and disconnect
    (a local cluster started here goes with it)."""
    events = start(config, address)  # ray.init installs a SIGTERM handler of its own: ours replace it afterwards
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        stop(events)
        ray.shutdown()
        log.info("stopped")
