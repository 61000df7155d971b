"""`[cameras.<name>]`: a camera's source, how many frames a second to analyse, motion gating, and its zones, lines
and masks in pixels of its frames (0 ≤ x ≤ width, 0 ≤ y ≤ height, edges included; image y points down)."""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator, model_validator

from vigil.config.section import Section
from vigil.errors import ConfigError

Point = tuple[float, float]


def _on_canvas(points: list[Point], width: int | None, height: int | None) -> bool:
    if any(x < 0 or y < 0 for x, y in points):
        return False
    return not (width and any(x > width for x, _ in points)) and not (height and any(y > height for _, y in points))


class ZoneConfig(Section):
    points: list[Point] = Field(title="Points", description="the polygon's corners in order, at least 3, in pixels")
    loiter_s: float | None = Field(None, gt=0, title="Loitering after",
                                   description="a loitering event for a track that stays this long (seconds); "
                                               "unset: none")
    labels: list[str] = Field(default_factory=list, title="Labels",
                              description="labels counted in the zone; empty: every tracked label")

    @field_validator("points")
    @classmethod
    def _polygon(cls, points: list[Point]) -> list[Point]:
        if len(points) < 3:
            raise ValueError(f"a zone needs at least 3 points, got {len(points)}")
        return points


class LineConfig(Section):
    points: list[Point] = Field(title="Points", description="two points: crossing from the line's left to its "
                                                           "right (seen from the first towards the second) is 'in'")

    @field_validator("points")
    @classmethod
    def _two(cls, points: list[Point]) -> list[Point]:
        if len(points) != 2 or points[0] == points[1]:
            raise ValueError("a line is two different points [[x1, y1], [x2, y2]]")
        return points


class CameraConfig(Section):
    source: str = Field("", title="Source", description="rtsp:// or http(s):// stream, video file, or folder of "
                                                       "frames; empty: the watcher's folder camera of this name")
    fps: float | None = Field(None, gt=0, title="Frames per second",
                              description="frames analysed per second; unset: every frame of a file, 5 of a stream; "
                                          "a watched folder camera: how many alarm frames it stores a second, "
                                          "for tracking them")
    motion_gate: bool = Field(True, title="Motion gating",
                              description="run the detector only on frames that changed (the first frame and a "
                                          "keyframe every keyframe_s always run)")
    keyframe_s: float = Field(5.0, gt=0, title="Keyframe every", description="seconds between forced detector runs")
    faces: bool = Field(True, title="Faces", description="a live camera recognises the best face of each person "
                                                           "track (when the faces task is available)")
    width: int | None = Field(None, gt=0, title="Width", description="frame width, to check shapes when the config "
                                                                     "loads; else they are checked on the first frame")
    height: int | None = Field(None, gt=0, title="Height", description="frame height (see width)")
    zones: dict[str, ZoneConfig] = Field(default_factory=dict, title="Zones", description="[cameras.<name>.zones.<z>]")
    lines: dict[str, LineConfig] = Field(default_factory=dict, title="Lines", description="[cameras.<name>.lines.<l>]")
    masks: dict[str, list[Point]] = Field(default_factory=dict, title="Masks",
                                          description="polygons; objects whose foot point is inside are ignored")

    @field_validator("masks")
    @classmethod
    def _masks(cls, masks: dict[str, list[Point]]) -> dict[str, list[Point]]:
        for name, points in masks.items():
            if len(points) < 3:
                raise ValueError(f"mask {name!r} needs at least 3 points, got {len(points)}")
        return masks

    @model_validator(mode="after")
    def _inside_frame(self) -> CameraConfig:
        for key, points in self.shapes().items():
            if not _on_canvas(points, self.width, self.height):
                raise ValueError(f"{key} lies outside the frame (0 ≤ x ≤ width, 0 ≤ y ≤ height)")
        return self

    def shapes(self) -> dict[str, list[Point]]:
        """Every zone, line and mask by its key (`zones.door`, `lines.mid`, `masks.street`)."""
        return ({f"zones.{k}": z.points for k, z in self.zones.items()}
                | {f"lines.{k}": v.points for k, v in self.lines.items()}
                | {f"masks.{k}": v for k, v in self.masks.items()})


def camera_config(where: str = "", **values: object) -> CameraConfig:
    """A CameraConfig from plain values (the facade's, the command line's); ConfigError naming the first bad key,
    prefixed with `where`."""
    try:
        return CameraConfig(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key, message = ".".join(str(p) for p in first["loc"]), first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}{key}: {message}" if key else message) from None
