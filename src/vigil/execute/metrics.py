"""Prometheus metrics for one server: request counts and latency per front end, route and task, model run latency and
batch sizes per task and model, queue depth. Task names come from the task registry (the route → task map is filled
where routes are made). Each Engine owns a registry, so tests can run several servers in one process."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from vigil.execute.batching import BatchObserver

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics(BatchObserver):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.route_tasks: dict[str, str] = {}  # route (template, or RPC method) → task name; others: ""
        self.task_models: dict[str, str] = {}  # task name → model label
        model = ["task", "model"]
        self.requests = Counter("vigil_requests", "Requests answered", ["front", "route", "status", "task"],
                                registry=self.registry)
        self.latency = Histogram("vigil_request_seconds", "Time from request to answer", ["front", "route", "task"],
                                 buckets=_LATENCY, registry=self.registry)
        self.model_latency = Histogram("vigil_model_seconds", "Time of one model run (a whole batch)", model,
                                       buckets=_LATENCY, registry=self.registry)
        self.batch_size = Histogram("vigil_batch_size", "Images per model run", model,
                                    buckets=(1, 2, 3, 4, 6, 8, 16), registry=self.registry)
        self.queue_depth = Gauge("vigil_queue_depth", "Jobs waiting for a model", model, registry=self.registry)
        self.rejected_total = Counter("vigil_rejected", "Requests refused because a queue was full", model,
                                      registry=self.registry)

    def _model(self, task: str) -> tuple[str, str]:
        return task, self.task_models.get(task, task)

    def batch(self, name: str, size: int, seconds: float) -> None:
        self.model_latency.labels(*self._model(name)).observe(seconds)
        self.batch_size.labels(*self._model(name)).observe(size)

    def rejected(self, name: str) -> None:
        self.rejected_total.labels(*self._model(name)).inc()

    def watch_queue(self, name: str, depth: Callable[[], int]) -> None:
        self.queue_depth.labels(*self._model(name)).set_function(depth)

    def request(self, front: str, route: str, status: int | str, seconds: float) -> None:
        task = self.route_tasks.get(route, "")
        self.requests.labels(front, route, str(status), task).inc()
        self.latency.labels(front, route, task).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
