"""``strided train``: from a dataset to a run folder with a model file, checkpoint, metrics and plots.

Settings come from the defaults below, then ``--config FILE`` (JSON), then the flags given on the
command line; the result is written to ``config.json`` in the run folder, so ``--config
RUN/config.json`` repeats a run. ``--resume`` continues a killed run from its last checkpoint and
ends with the same weights as an uninterrupted run; a run killed before its first checkpoint is
started over from its config.json, and ``--overwrite`` starts any run folder afresh. The optional
dependencies (plots, model files) are checked before the dataset is even opened.
"""

import json
from pathlib import Path

from .common import require_extra
from .datasets import BUILT_IN

DEFAULTS = {
    "dataset": "sample", "data_dir": None, "model": "seed_cnn", "epochs": 8, "batch_size": 64, "lr": 1e-3,
    "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0, "label_smoothing": 0.0, "scheduler": "none",
    "warmup_steps": 0, "augment": "none", "val_split": 0.1, "seed": 0, "out": "runs/latest",
    "image_size": 32, "mode": "RGB", "progress": "auto", "multi_scale": None,
    "sync_bn": False, "precision": "32",
}
AUGMENTS = ("none", "light", "crop-flip")


def add_arguments(parser) -> None:
    flag = parser.add_argument
    # Every default is None here so that only the flags a user typed override the config file.
    flag("--dataset", help=f"{', '.join(BUILT_IN)} or a folder of class sub-folders (default: sample, "
                           "the 4,000 training digits of the MNIST sample inside the package)")
    flag("--data-dir", help="where the standard datasets' files are (default: the cache, ~/.cache/strided)")
    flag("--model", help="architecture (default seed_cnn); see `strided summary` for names")
    flag("--epochs", type=int)
    flag("--batch-size", type=int)
    flag("--lr", type=float, help="learning rate")
    flag("--optimizer", choices=["sgd", "adam", "adamw"])
    flag("--momentum", type=float, help="for sgd")
    flag("--weight-decay", type=float)
    flag("--label-smoothing", type=float)
    flag("--scheduler", choices=["none", "cosine", "onecycle", "step"])
    flag("--warmup-steps", type=int, help="optimizer steps of linear learning-rate warm-up")
    flag("--augment", choices=AUGMENTS, help="none; light (small rotations and shifts); crop-flip "
                                             "(random crop with padding and horizontal flip)")
    flag("--multi-scale", help="train each batch at a side drawn from these, e.g. 20,28,36 (the model must "
                               "accept any size: adaptive pooling); validation stays at the dataset's size")
    flag("--val-split", type=float, help="fraction held out for validation (stratified)")
    flag("--seed", type=int)
    flag("--out", help="run folder (default runs/latest)")
    flag("--image-size", type=int, help="for image folders: images are resized to this square size")
    flag("--mode", choices=["L", "RGB"], help="for image folders: grey (L) or colour (RGB)")
    flag("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    flag("--config", help="a JSON file of settings (e.g. an earlier run's config.json)")
    flag("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    flag("--overwrite", action="store_true", help="start afresh in --out, deleting the run there")
    flag("--download", action="store_true", help="fetch a standard dataset that is not on disk yet")
    # Scale-out (issue 14): see docs/distributed.md.
    flag("--nproc", type=int, help="train on N processes: re-runs this command under `mpiexec -n N` (data "
                                   "parallel; --batch-size is per process); `mpiexec -n N strided train` works too")
    flag("--sync-bn", action="store_true", default=None,
         help="with several processes: batch-norm statistics over the global batch (SyncBatchNorm)")
    flag("--precision", choices=["32", "16-mixed", "bf16-mixed"],
         help="mixed precision: 16-bit saved activations and gradients, float32 weights (default 32); "
              "bf16-mixed needs pip install 'strided[amp]'; see docs/mixed-precision.md")
    _show_defaults(parser)


def _show_defaults(parser) -> None:
    """Each flag's help ends with its default (the parser's own defaults are None: see above), and
    --model lists the architectures."""
    from ..models.registry import MODEL_BUILDERS

    for action in parser._actions:
        if action.dest == "model":
            action.help += f"; one of {', '.join(sorted(MODEL_BUILDERS))}"
        if action.dest in DEFAULTS and DEFAULTS[action.dest] is not None and "(default" not in (action.help or ""):
            action.help = f"{action.help or ''} (default: {DEFAULTS[action.dest]})".strip()


def settings_from(args) -> dict:
    """The defaults, overridden by the config file, overridden by the flags typed.

    ``--resume`` without ``--config`` reads the run folder's own config.json, so a resumed run goes on
    with the settings it was started with (flags typed still override, e.g. more ``--epochs``).
    """
    settings = dict(DEFAULTS)
    config = args.config
    if config is None and args.resume:
        saved = Path(args.out or DEFAULTS["out"]) / "config.json"
        config = saved if saved.is_file() else None
    if config:
        try:
            loaded = json.loads(Path(config).read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{config}: not valid JSON ({error})") from None
        unknown = sorted(set(loaded) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"{config}: unknown settings {unknown}")
        settings.update(loaded)
    settings.update({k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None})
    if not 0 <= settings["val_split"] < 1:
        raise ValueError(f"--val-split must be at least 0 and below 1, got {settings['val_split']}")
    if settings["multi_scale"] is not None:
        from ..data.multiscale import parse_sizes

        settings["multi_scale"] = list(parse_sizes(settings["multi_scale"], "--multi-scale"))
    for key in ("epochs", "batch_size"):
        if settings[key] < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be at least 1, got {settings[key]}")
    return settings


def augmentation(name: str, size):
    from ..data import transforms as T

    if name == "light":
        return [T.RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.92, 1.08))]
    if name == "crop-flip":
        return [T.RandomCrop(size, padding=max(2, size[0] // 8)), T.RandomHorizontalFlip()]
    return []


def multi_scale(sizes) -> list:
    """The last training transform: resize each batch to a side drawn from ``sizes`` (none when None)."""
    from ..data import MultiScaleResize

    return [] if sizes is None else [MultiScaleResize(sizes)]


def build_optimizer(settings, parameters):
    from .. import optim

    if settings["optimizer"] == "sgd":
        return optim.SGD(parameters, lr=settings["lr"], momentum=settings["momentum"], nesterov=True,
                         weight_decay=settings["weight_decay"])
    kind = optim.Adam if settings["optimizer"] == "adam" else optim.AdamW
    return kind(parameters, lr=settings["lr"], weight_decay=settings["weight_decay"])


def build_scheduler(settings, optimizer, steps_per_epoch):
    from ..optim import lr_scheduler

    epochs = settings["epochs"]
    if settings["scheduler"] == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), "epoch"
    if settings["scheduler"] == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=settings["lr"], epochs=epochs,
                                       steps_per_epoch=steps_per_epoch), "step"
    if settings["scheduler"] == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), "epoch"
    return None, "epoch"


def run(args) -> int:
    """Train; with --nproc N > 1 re-run under mpiexec; under mpiexec, every rank trains its share."""
    from .. import distributed as dist
    from ..distributed.launch import launched_by_mpiexec, relaunch
    from ..distributed.process_group import fail

    if args.nproc is not None and args.nproc < 1:
        raise ValueError(f"--nproc must be a positive integer, got {args.nproc}")
    if (args.nproc or 1) > 1 and not launched_by_mpiexec():
        settings_from(args)  # a mistake in the settings is reported here, once, before N ranks start
        return relaunch(args.nproc, ["-m", "strided", "train", *command_line_of(args)])
    if not launched_by_mpiexec():
        return train(args)
    dist.init_process_group()
    try:
        return train(args)
    except Exception as error:  # one rank's error stops every rank (they would wait for it forever)
        if dist.get_world_size() > 1:
            fail(f"raised {type(error).__name__}: {' '.join(str(error).split())}")
        raise


def command_line_of(args) -> list:
    """The flags that reproduce ``args`` (without --nproc), for the ranks' own command line."""
    line = []
    for key, value in vars(args).items():
        if value is None or value is False or key in ("command", "nproc"):
            continue
        line.append("--" + key.replace("_", "-"))
        if value is not True:
            line.append(str(value))
    return line


def train(args) -> int:
    import numpy as np

    import strided as st

    from ..data import DataLoader, DistributedSampler, compute_mean_std, stratified_split
    from ..data import transforms as T
    from ..data.preprocess import Preprocessing
    from ..io.atomic import atomic_write_bytes
    from .datasets import open_dataset

    require_extra("train", "matplotlib", "safetensors", "PIL")
    settings = settings_from(args)
    precision = st.amp.get_precision(settings["precision"])  # before any long work: bf16 needs ml_dtypes
    out = Path(settings["out"])
    checkpoint = out / "checkpoint.safetensors"
    main, world = st.distributed.get_rank() == 0, st.distributed.get_world_size()
    # distributed: every rank decides from the same folder; rank 0 alone deletes anything in it
    resume = prepare_run_folder(out, checkpoint, args.resume, args.overwrite, clean=main)
    st.distributed.barrier()  # every rank has checked the folder before rank 0 writes into it
    st.manual_seed(settings["seed"])
    size = (settings["image_size"],) * 2
    full, has_test = open_dataset(settings["dataset"], settings["data_dir"], True, settings["mode"], size,
                                  args.download)
    print(f"{settings['dataset']}: {len(full)} images in {len(full.classes)} classes", flush=True)
    if settings["val_split"] > 0:
        train_part, val_part = stratified_split(full, [1 - settings["val_split"], settings["val_split"]],
                                                seed=settings["seed"])
    else:
        train_part, val_part = full, None
    images, _ = full[:1]
    channels, height, width = images.shape[1:]
    mean, std = compute_mean_std(train_part)
    preprocessing = Preprocessing("L" if channels == 1 else "RGB", (height, width), mean, std)
    normalise = preprocessing.transform().transforms
    # distributed: each rank its share of every epoch (batch_size per rank); a world of one: plain shuffle
    train_sampler = DistributedSampler(train_part, seed=settings["seed"]) if world > 1 else None
    train_loader = DataLoader(train_part, settings["batch_size"], shuffle=world == 1, seed=settings["seed"],
                              sampler=train_sampler,
                              transform=T.Compose(augmentation(settings["augment"], (height, width)) + normalise
                                                  + multi_scale(settings["multi_scale"])))
    val_loader = None if val_part is None else DataLoader(
        val_part, 256, transform=T.Compose(normalise),
        sampler=DistributedSampler(val_part, shuffle=False) if world > 1 else None)

    model = st.models.build_model(settings["model"], num_classes=len(full.classes), in_channels=channels)
    if settings["sync_bn"]:
        model = st.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    trained = st.distributed.DistributedDataParallel(model) if world > 1 else model
    if world > 1:  # distributed: each rank its own dropout masks, a stream derived from the seed and the rank
        st.manual_seed(int(np.random.SeedSequence([settings["seed"], st.distributed.get_rank()]).generate_state(1)[0]))
    optimizer = build_optimizer(settings, model.parameters())
    scheduler, interval = build_scheduler(settings, optimizer, len(train_loader))
    if main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "config.json", (json.dumps(settings, indent=2) + "\n").encode())
    trainer = st.train.Trainer(
        trained, optimizer, st.nn.CrossEntropyLoss(label_smoothing=settings["label_smoothing"]),
        scheduler=scheduler, scheduler_interval=interval, warmup_steps=settings["warmup_steps"], run_dir=out,
        progress=False if args.quiet else settings["progress"], verbose=0 if args.quiet else 1,
        class_names=full.classes, precision=precision)
    history = trainer.fit(train_loader, val_loader, epochs=settings["epochs"], checkpoint_path=checkpoint,
                          resume=resume)
    final = history[-1] if len(history) else {}
    metrics = {k: float(v) for k, v in final.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    if main:
        st.save(model, out / "model.safetensors", name=f"{settings['model']}-{settings['dataset']}".replace("/", "_"),
                class_names=list(full.classes), input_shape=[channels, height, width],
                preprocessing=preprocessing.to_dict(), metrics=metrics)
    if has_test:
        test_set, _ = open_dataset(settings["dataset"], settings["data_dir"], False, download=args.download)
        test_sampler = DistributedSampler(test_set, shuffle=False) if world > 1 else None
        metrics["test_accuracy"] = trainer.evaluate(DataLoader(test_set, 256, transform=T.Compose(normalise),
                                                               sampler=test_sampler))["accuracy"]
    summary = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    if main:
        print(f"saved {out / 'model.safetensors'} ({summary})")
    return 0


def prepare_run_folder(out: Path, checkpoint: Path, resume: bool, overwrite: bool, clean: bool = True) -> bool:
    """Whether to resume from ``checkpoint``; refuses to mix a new run into an old one's folder.

    A run killed before its first checkpoint left config.json and perhaps metrics.jsonl, or only
    the temporary file of an interrupted write: ``--resume`` starts it over (there is nothing else
    to resume), ``--overwrite`` starts afresh. Leftover temporaries are removed first. With
    ``clean=False`` (the other ranks of a distributed run) nothing is deleted: the decision is the same,
    and rank 0 does the deleting.
    """
    from ..train.run_dir import RUN_FILES, TEMPORARY_NAME, remove_stale_temporaries

    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: choose one")
    if clean:
        remove_stale_temporaries(out)
    if overwrite and out.is_dir():
        for name in RUN_FILES if clean else ():
            (out / name).unlink(missing_ok=True)
        return False
    if resume:
        if checkpoint.is_file():
            return True
        print(f"{out}: no checkpoint yet (stopped during its first epoch, or never started): starting the run "
              "over", flush=True)
        return False
    if out.exists() and any(not TEMPORARY_NAME.match(path.name) for path in out.iterdir()):
        raise ValueError(f"{out} already holds a run: pass --resume to continue it (or start it over if it has no "
                         "checkpoint yet), --overwrite to replace it, or choose another --out")
    return False
