"""Finds the tasks: every module of the task packages whose source defines a module-level `TASK = ...` is imported
and its TaskDef registered, then every task another package declares in the entry-point group `vigil.tasks` (a
TaskDef, or a module defining TASK). No list to keep in step: adding a task is adding its module.

Modules are checked by their source before import, so discovery never imports what is not a task (training code,
optional libraries). """

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import re
import threading
from importlib.metadata import entry_points

from vigil.tasks.base import TaskDef, register, registered

log = logging.getLogger(__name__)
TASK_PACKAGES = ("vigil.tasks", "vigil.faces")
ENTRY_POINTS = "vigil.tasks"
_DEFINES_TASK = re.compile(r"^TASK\s*(:[^=]+)?=", re.MULTILINE)
_lock = threading.Lock()
_found: dict[str, TaskDef] = {}


def discover() -> dict[str, TaskDef]:
    """Register the built-in tasks (once per process) and return every registered task, built-in or not."""
    with _lock:
        if not _found:
            for package in TASK_PACKAGES:
                _found.update(_scan(package))
            _found.update(_plugins())
        for task in _found.values():
            if task.name not in registered():
                register(task)
    return registered()


def _scan(package: str) -> dict[str, TaskDef]:
    found: dict[str, TaskDef] = {}
    root = importlib.import_module(package)
    for info in pkgutil.iter_modules(root.__path__, prefix=f"{package}."):
        if info.ispkg or not _defines_task(info.name):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError as exc:  # an optional library is missing: the task is not part of this build
            log.warning("task not available", extra={"module": info.name, "reason": str(exc)})
            continue
        task = getattr(module, "TASK", None)
        if isinstance(task, TaskDef):
            found[task.name] = task
    return found


def _plugins() -> dict[str, TaskDef]:
    """Tasks of other installed packages (`[project.entry-points."vigil.tasks"] name = "module:TASK"`); one that
    cannot be imported is logged and left out, as a built-in task missing an optional library is."""
    found: dict[str, TaskDef] = {}
    for point in entry_points(group=ENTRY_POINTS):
        try:
            loaded = point.load()
        except Exception as exc:  # a broken plugin must not stop the server
            log.warning("task plugin not available", extra={"entry_point": point.name, "reason": str(exc)})
            continue
        task = getattr(loaded, "TASK", loaded)
        if isinstance(task, TaskDef):
            found[task.name] = task
        else:
            log.warning("task plugin is not a TaskDef", extra={"entry_point": point.name})
    return found


def _defines_task(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return False
    with open(spec.origin, encoding="utf-8") as source:
        return bool(_DEFINES_TASK.search(source.read()))
