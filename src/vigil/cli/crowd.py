"""`vigil crowd count|synthesize` and `vigil train crowd|crowd-level`: torch is imported inside the training commands
only, so counting runs on a serving install."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import track
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, config_or_exit, emit_json, err, fail, out
from vigil.errors import VigilError

crowd_app = typer.Typer(rich_markup_mode=None, help="Crowds: how dense, how many, and where.", no_args_is_help=True)
PROGRESS_FROM = 8  # batches this long get a progress bar on stderr


@crowd_app.command("count")
def count(
    images: Annotated[list[Path], typer.Argument(help="image files", show_default=False, metavar="IMAGE")],
    heatmap: Annotated[Path | None, typer.Option(help="write <stem>.heatmap.png overlays into this folder")] = None,
    estimator: Annotated[str, typer.Option(help="auto | detector | tiled_detector | density")] = "auto",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Count people per image; one JSON array in input order with count, level and the estimator that ran."""
    from vigil.execute.local import Inline
    from vigil.formats import native
    from vigil.registry.store import ModelStore
    from vigil.results import CrowdEstimate
    from vigil.tasks.crowd import CrowdOptions

    cfg = config_or_exit(config)
    store = ModelStore(cfg.store.home)
    try:
        options = CrowdOptions(heatmap=heatmap is not None, estimator=estimator)
        for name in (cfg.detect.model, *([cfg.crowd.density_model] if cfg.crowd.density_model else [])):
            store.pull(name)
        executor = Inline(cfg, store)
        executor.load("crowd")
    except (VigilError, ValueError) as exc:
        fail(exc)
    if heatmap is not None:
        heatmap.mkdir(parents=True, exist_ok=True)
    entries = []
    paths = track(images, description="counting", console=err) if len(images) >= PROGRESS_FROM else images
    for path in paths:
        try:
            result = executor.run("crowd", executor.decode_for("crowd", path), options, executor.deadline())
        except VigilError as exc:
            result = CrowdEstimate(error=str(exc))
        if heatmap is not None and result.heatmap_png is not None:
            (heatmap / f"{path.stem}.heatmap.png").write_bytes(result.heatmap_png)
            result.heatmap_png = None  # written to DIR, not inlined in the JSON
        entries.append(native.crowd(str(path), result))
    emit_json(entries) if as_json else _print_counts(entries)
    if entries and all("error" in e for e in entries):
        raise typer.Exit(1)


def _print_counts(entries: list[dict]) -> None:
    table = Table(title="crowd", title_justify="left")
    for column in ("image", "count", "level", "estimator"):
        table.add_column(column)
    for e in entries:
        table.add_row(e["image"], *((f"[red]{e['error']}[/red]", "", "") if "error" in e else
                                    (str(e["count"]), e["level"], e["estimator"])))
    out.print(table)


@crowd_app.command("synthesize")
def synthesize(
    out_dir: Annotated[Path, typer.Argument(metavar="OUT_DIR", help="dataset folder to write (images/ + points.json)")],
    count: Annotated[int, typer.Option("--images", min=1, help="how many scenes")] = 100,
    low: Annotated[int, typer.Option("--min-people", min=1)] = 2,
    high: Annotated[int, typer.Option("--max-people", min=1)] = 300,
    split: Annotated[str, typer.Option(help="train | held_out (other backgrounds and people)")] = "train",
    width: Annotated[int, typer.Option(min=32)] = 768,
    height: Annotated[int, typer.Option(min=32)] = 576,
    images_dir: Annotated[Path, typer.Option(help="the vtest frames and person-free photos (a repository checkout's "
                                                  "test fixtures)")] = Path("tests/fixtures/images"),
    seed: int = 0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Synthetic crowds (real people pasted onto real backgrounds) for tests and bootstrapping, never real use."""
    from vigil.registry.store import ModelStore
    from vigil.train.synthetic_crowd import SceneSource, log_uniform_counts, write_json_dataset

    cfg = config_or_exit(config)
    try:
        source = SceneSource(ModelStore(cfg.store.home), split, images_dir)
        scenes = source.scenes(log_uniform_counts(count, low, max(low, high), seed), (width, height), seed)
        write_json_dataset(scenes, out_dir)
    except (VigilError, KeyError, ValueError, FileNotFoundError) as exc:
        fail(exc)
    summary = {"out": str(out_dir), "images": len(scenes), "people": int(sum(len(s.points) for s in scenes))}
    emit_json(summary) if as_json else err.print(summary)


def train_crowd(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET",
                                            help="ShanghaiTech layout (images/, ground_truth/GT_*.mat) or "
                                                 "images/ + points.json")],
    out_dir: Annotated[Path, typer.Option("--out", help="run folder (resumes from its checkpoint if present)")],
    val: Annotated[Path | None, typer.Option(help="held-out dataset (default: 20% of DATASET)")] = None,
    arch: Annotated[str, typer.Option(help="mobilenet_v2 | vgg16")] = "mobilenet_v2",
    epochs: Annotated[int, typer.Option(min=1)] = 40,
    size: Annotated[str, typer.Option(help="training input WxH, multiples of 16")] = "512x384",
    sigma: Annotated[float | None, typer.Option(help="fixed Gaussian sigma (px); default geometry-adaptive")] = None,
    freeze_backbone: Annotated[bool, typer.Option(help="train the back end only, on cached features")] = False,
    init_weights: Annotated[str | None, typer.Option(help="our state dict or published CSRNet weights: a file or "
                                                          "a store name")] = None,
    name: Annotated[str, typer.Option(help="store name (default crowd.<out folder>)")] = "",
    synthetic: Annotated[bool, typer.Option(help="mark the data as synthetic in the manifest")] = False,
    batch: Annotated[int, typer.Option(min=1)] = 8,
    threads: Annotated[int, typer.Option(min=0)] = 0,
    seed: Annotated[int, typer.Option(help="seeds the weights, the validation split, data order and flips")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train a density regressor from point annotations; exports fp32 and int8 ONNX; `vigil models add` the run."""
    try:
        from vigil.train.crowd import CrowdTrainConfig, train_density
    except ImportError as exc:
        fail(f"training needs the train extra: pip install 'vigil[train]' ({exc})")
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        fail(f"--size {size!r}: expected WxH, e.g. 512x384")
    cfg = CrowdTrainConfig(dataset=str(dataset), val_dataset=str(val) if val else None, arch=arch, name=name,
                           width=width, height=height, epochs=epochs, batch=batch, sigma=sigma, threads=threads,
                           init_weights=init_weights,
                           freeze_backbone=freeze_backbone, synthetic=synthetic, seed=seed)
    try:
        summary = train_density(cfg, out_dir)
    except (VigilError, ValueError) as exc:
        fail(exc)
    emit_json(summary) if as_json else out.print(summary)


def train_crowd_level(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="DATASET/dense/*.jpg and DATASET/sparse/*.jpg")],
    out_dir: Annotated[Path, typer.Option("--out", help="classifier folder; set [crowd] level_model to it")],
    seed: Annotated[int, typer.Option(help="seeds SMOTE and the cross-validation folds")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train the dense/sparse classifier (logistic regression, SMOTE, grid search over C, stratified folds)."""
    try:
        from vigil.train.crowd_level import train_level
    except ImportError as exc:
        fail(f"needs the train extra (torch, imbalanced-learn): pip install 'vigil[train]' ({exc})")
    try:
        summary = train_level(dataset, out_dir, seed=seed)
    except (VigilError, ValueError) as exc:
        fail(exc)
    emit_json(summary) if as_json else out.print(summary)
