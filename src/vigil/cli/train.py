"""`vigil train classify`, `vigil export`, `vigil eval`, `vigil models add`: torch and the exporters are imported
inside the commands, so a serving install (no train/edge extras) still runs every other command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vigil.cli.common import ConfigOpt, JsonOpt, emit_json, err, fail, out
from vigil.config.training import DEFAULT_SEED, SPLIT_SEED
from vigil.errors import VigilError

train_app = typer.Typer(rich_markup_mode=None,
                        help="Train models on your own images (extra: train).", no_args_is_help=True)
SeedOpt = Annotated[int, typer.Option(help="seeds the weights, data order and augmentation: the same command and "
                                           "seed give the same weights (config.json records it)")]


def _home(config: Path | None) -> Path:
    from vigil.config.settings import load_config

    return load_config(config).store.home


@train_app.command("classify")
def train_classify(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="DATASET/<label>/*.jpg (no_faces: the parent's)")],
    out_dir: Annotated[Path, typer.Option("--out", help="run folder (resumes from its checkpoint if present)")],
    arch: Annotated[str, typer.Option(help="efficientnet_lite0 | mobilenet_v2 | resnet50 | mobilenet_v1 | darknet19")
                    ] = "efficientnet_lite0",
    epochs: Annotated[int, typer.Option(min=1, help="pass 1 maximum epochs (early stopping, patience 10)")] = 100,
    fine_tune_epochs: Annotated[int, typer.Option(min=0, help="pass 2 epochs (top of the backbone, lr/10)")] = 5,
    size: Annotated[int, typer.Option(min=0, help="input side in pixels (0: the architecture's own)")] = 0,
    width: Annotated[float, typer.Option(min=0.1, help="width multiplier (mobilenet_v1/v2)")] = 1.0,
    weights: Annotated[Path | None, typer.Option(help="backbone weights: .safetensors or a .pth state dict")] = None,
    pretrained: Annotated[bool, typer.Option(help="use the store's ImageNet weights when the arch has them")] = True,
    name: Annotated[str, typer.Option(help="model name in the store (default: person.<out folder>)")] = "",
    batch: Annotated[int, typer.Option(min=1)] = 32,
    feature_copies: Annotated[int, typer.Option(min=0, help="augmented views added to the pass-1 feature cache")
                              ] = 0,
    threads: Annotated[int, typer.Option(min=0, help="torch threads (0: all cores)")] = 0,
    gray: Annotated[bool, typer.Option("--gray", help="one grey input channel instead of RGB")] = False,
    scratch_epochs: Annotated[int, typer.Option(min=1, help="--no-pretrained: epochs of whole-network training")
                              ] = 20,
    lr_schedule: Annotated[str, typer.Option(help="--no-pretrained: triangular (default) | triangular2 | "
                                                  "exp_range | constant (at --base-lr), per iteration (Smith 2017)")
                           ] = "",
    base_lr: Annotated[float, typer.Option(min=0.0, help="lowest (and the constant) learning rate")] = 0.002,
    max_lr: Annotated[float, typer.Option(min=0.0, help="highest learning rate of a cycle (0: the architecture's: "
                                                        "darknet19 0.02, the others 0.05)")] = 0.0,
    step_size: Annotated[int, typer.Option(min=0, help="iterations per half cycle (0: four cycles per run)")] = 0,
    augment: Annotated[str, typer.Option(help="seed (rotation 40°, shifts/shear/zoom 0.2, flip) | light (10°, 0.1, "
                                              "flip); default: light for darknet19 from scratch, else seed")] = "",
    seed: SeedOpt = DEFAULT_SEED,
    split_seed: Annotated[int, typer.Option(help="the split's own seed: seeds compare on one test set")] = SPLIT_SEED,
    fold: Annotated[int | None, typer.Option(min=0, help="test on fold K of a stratified k-fold split")] = None,
    folds: Annotated[int, typer.Option(min=2)] = 5,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a classifier: transfer learning in two passes (seed 000 recipe), or with --no-pretrained the whole
    network from scratch under a cyclical learning rate; writes a run folder with a servable fp32 ONNX + manifest."""
    try:
        from vigil.export.run import export_fp32
        from vigil.registry.store import ModelStore
        from vigil.train.classify import train_classifier
        from vigil.train.run import TrainConfig
    except ImportError as exc:
        fail(f"training needs the train extra: pip install 'vigil[train]' ({exc})")
    cfg = TrainConfig(dataset=str(dataset), arch=arch, name=name, size=size, width=width,
                      weights=str(weights) if weights else None, pretrained=pretrained, epochs=epochs,
                      fine_tune_epochs=fine_tune_epochs, batch=batch, threads=threads,
                      feature_copies=feature_copies, gray=gray, scratch_epochs=scratch_epochs,
                      lr_schedule=lr_schedule, base_lr=base_lr, max_lr=max_lr, step_size=step_size, augment=augment,
                      seed=seed, split_seed=split_seed, fold=fold, folds=folds)
    try:
        summary = train_classifier(cfg, out_dir, ModelStore(_home(config)))
        export_fp32(out_dir)
    except VigilError as exc:
        fail(exc)
    if as_json:
        emit_json(summary)
    else:
        out.print((Path(summary["run_dir"]) / "classification_report.txt").read_text())
        out.print(f"test accuracy {summary['test_accuracy']:.4f}; run folder {summary['run_dir']}")


@train_app.command("lr-find")
def train_lr_find(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="DATASET/<label>/*.jpg, as for classify")],
    arch: Annotated[str, typer.Option(help="efficientnet_lite0 | mobilenet_v2 | resnet50 | mobilenet_v1 | darknet19")
                    ] = "darknet19",
    out_png: Annotated[Path, typer.Option("--out", help="the plot (a .csv of every iteration beside it)")
                       ] = Path("lr_find.png"),
    iterations: Annotated[int, typer.Option(min=10, help="iterations of the linear rise")] = 300,
    start_lr: Annotated[float, typer.Option(min=0.0)] = 1e-4,
    end_lr: Annotated[float, typer.Option(min=0.0)] = 0.3,
    size: Annotated[int, typer.Option(min=0, help="input side in pixels (0: the architecture's own)")] = 0,
    width: Annotated[float, typer.Option(min=0.1, help="width multiplier (mobilenet_v1/v2)")] = 1.0,
    gray: Annotated[bool, typer.Option("--gray", help="one grey input channel instead of RGB")] = False,
    batch: Annotated[int, typer.Option(min=2)] = 32,
    threads: Annotated[int, typer.Option(min=0, help="torch threads (0: all cores)")] = 0,
    seed: SeedOpt = DEFAULT_SEED,
    as_json: JsonOpt = False,
) -> None:
    """Smith's learning-rate range test for training from scratch: suggests --base-lr and --max-lr."""
    try:
        from vigil.train.lrfind import lr_find
        from vigil.train.run import TrainConfig
    except ImportError as exc:
        fail(f"training needs the train extra: pip install 'vigil[train]' ({exc})")
    cfg = TrainConfig(dataset=str(dataset), arch=arch, size=size, width=width, gray=gray, batch=batch,
                      threads=threads, pretrained=False, seed=seed)
    try:
        result = lr_find(cfg, out_png, None, iterations, start_lr, end_lr)
    except VigilError as exc:
        fail(exc)
    if as_json:
        emit_json(result)
        return
    out.print(f"suggested --base-lr {result['suggested_base_lr']:.4g} --max-lr {result['suggested_max_lr']:.4g} "
              f"(loss lowest at {result['min_loss_lr']:.4g}); plot {result['png']}")


def _run_dir(model: str, home: Path) -> Path:
    """A run folder as given, or the folder a registered trained model's files came from."""
    if Path(model).is_dir():
        return Path(model)
    from vigil.registry.specs import PathSource
    from vigil.registry.store import ModelStore

    spec = ModelStore(home).spec(model)  # NotFound, with close names, for an unknown one
    for file in spec.files.values():
        for source in file.sources:
            if isinstance(source, PathSource) and (Path(source.path).parent / "model.safetensors").is_file():
                return Path(source.path).parent
    raise VigilError(f"{model} is not a model trained here (no run folder behind it); export needs the run folder")


def export(
    model: Annotated[str, typer.Argument(metavar="MODEL",
                                         help="a training run folder, or a registered trained model's name")],
    to: Annotated[str, typer.Option("--to", help="comma-separated: onnx,onnx-int8,litert-int8,c-array,edgetpu,"
                                                 "darknet (darknet19 runs: .cfg + .weights)")] = "onnx,onnx-int8",
    int8_io: Annotated[bool, typer.Option("--int8-io", help="LiteRT output int8 too (input always is), as "
                                                             "TFLite Micro examples read it")] = False,
    c_symbol: Annotated[str | None, typer.Option(help="C array name (default g_<model>_model), e.g. "
                                                      "g_person_detect_model_data")] = None,
    register: Annotated[bool, typer.Option(help="add the exported models to the model store")] = True,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a run to int8 ONNX / LiteRT / C array / Edge TPU, each with a store manifest, and register them."""
    try:
        from vigil.export.manifest import register as add
        from vigil.export.run import export_run, parse_forms
    except ImportError as exc:
        fail(f"export needs the train extra (and edge for LiteRT): pip install 'vigil[train,edge]' ({exc})"
                    )
    try:
        run_dir = _run_dir(model, _home(config))
        report = export_run(run_dir, parse_forms(to), int8_io=int8_io, c_symbol=c_symbol)
        if register:
            report["registered"] = add(run_dir, _home(config))
    except VigilError as exc:
        fail(exc)
    tpu = report["forms"].get("edgetpu")
    if tpu and not tpu["compiled"]:
        err.print(f"[yellow]{tpu['message']}[/yellow]\n  {tpu['command']}")
    if as_json:
        emit_json(report)
        return
    for form, info in report["forms"].items():
        out.print(f"{form}: {info.get('path') or info.get('source') or info.get('message')} "
                  f"{info.get('ms_per_crop_1_thread', '')}")
    out.print(f"serving default: {report['serving_default']}; models: {', '.join(report['models'])}")


def evaluate(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a training run folder (after `vigil export`)")],
    dataset: Annotated[Path, typer.Argument(metavar="DATASET",
                                            help="DATASET/<label>/*.jpg; the run's own dataset → its test split")],
    threads: Annotated[int, typer.Option(min=1, help="inference threads")] = 1,
    seeds: Annotated[str, typer.Option(help="retrain the run's recipe once per seed (e.g. 1,2,3,4,5) in "
                                            "RUN_DIR/repeats and report the test accuracy's mean and spread")] = "",
    folds: Annotated[int, typer.Option(min=0, help="with --seeds: also over the folds of a stratified k-fold split "
                                                   "(0: the run's own split)")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Accuracy, per-class P/R/F1, confusion matrix and images/s of fp32 and each int8 form, and their agreement;
    with --seeds [--folds K], the recipe's test accuracy over seeds and splits (mean, std, min, max)."""
    if seeds:
        _evaluate_repeats(run_dir, dataset, seeds, folds, as_json)
        return
    from vigil.export.evaluate import evaluate as run_eval

    try:
        result = run_eval(run_dir, dataset, threads)
    except (VigilError, ValueError, FileNotFoundError) as exc:
        fail(exc)
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"{result['images']} images ({result['evaluated_on']})")
    for column in ("form", "accuracy", "macro F1", "images/s", "agreement"):
        table.add_column(column)
    for form, r in result["forms"].items():
        table.add_row(form, f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}", f"{r['images_per_s']:.0f}",
                      str(result.get("agreement_by_form", {}).get(form, "—")))
    out.print(table)


def _evaluate_repeats(run_dir: Path, dataset: Path, seeds: str, folds: int, as_json: bool) -> None:
    """The run's own config retrained per seed (and fold); each repeat's torch test accuracy, then the spread."""
    try:
        import json
        from dataclasses import replace

        from vigil.train.repeat import repeat
        from vigil.train.run import TrainConfig
    except ImportError as exc:
        fail(f"--seeds retrains: it needs the train extra: pip install 'vigil[train]' ({exc})")
    try:
        chosen = [int(s) for s in seeds.split(",")]
    except ValueError:
        fail(f"--seeds {seeds!r}: expected comma-separated integers, e.g. 1,2,3,4,5")
    try:
        cfg = replace(TrainConfig(**json.loads((run_dir / "config.json").read_text())), dataset=str(dataset))
        result = repeat(cfg, run_dir / "repeats", chosen, folds, on_run=None if as_json else err.print)
    except (VigilError, FileNotFoundError) as exc:
        fail(exc)
    if as_json:
        emit_json(result)
        return
    acc = result["test_accuracy"]
    out.print(f"test accuracy over {acc['n']} runs ({len(chosen)} seeds"
              f"{f' x {folds} folds' if folds else ', one split'}): mean {acc['mean']:.4f} ± {acc['std']:.4f} "
              f"(min {acc['min']:.4f}, max {acc['max']:.4f}); {result['seconds']['mean']:.0f} s a run")


def models_add(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR",
                                            help="a run folder with manifests/ (after train or export)")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a trained run's models in the store ($VIGIL_HOME/manifests) and pull them (copy + sha256)."""
    from vigil.export.manifest import register as add

    try:
        names = add(run_dir, _home(config))
    except (VigilError, FileNotFoundError) as exc:
        fail(exc)
    if as_json:
        emit_json({"registered": names})
    else:
        err.print("registered: " + ", ".join(names))
