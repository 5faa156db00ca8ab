"""``strided train``: from a dataset to a run folder with a model file, checkpoint, metrics and plots.

Settings come from the defaults below, then ``--config FILE`` (JSON), then the flags given on the
command line; the result is written to ``config.json`` in the run folder, so ``--config
RUN/config.json`` repeats a run. ``--resume`` continues a killed run from its last checkpoint and
ends with the same weights as an uninterrupted run.
"""

import json
from pathlib import Path

from .datasets import BUILT_IN

DEFAULTS = {
    "dataset": "sample", "data_dir": None, "model": "seed_cnn", "epochs": 8, "batch_size": 64, "lr": 1e-3,
    "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0, "label_smoothing": 0.0, "scheduler": "none",
    "warmup_steps": 0, "augment": "none", "val_split": 0.1, "seed": 0, "out": "runs/latest",
    "image_size": 32, "mode": "RGB", "progress": "auto", "precision": "32",
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
    flag("--val-split", type=float, help="fraction held out for validation (stratified)")
    flag("--seed", type=int)
    flag("--out", help="run folder (default runs/latest)")
    flag("--image-size", type=int, help="for image folders: images are resized to this square size")
    flag("--mode", choices=["L", "RGB"], help="for image folders: grey (L) or colour (RGB)")
    flag("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    flag("--config", help="a JSON file of settings (e.g. an earlier run's config.json)")
    flag("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    flag("--precision", choices=["32", "16-mixed", "bf16-mixed"],
         help="mixed precision: 16-bit saved activations and gradients, float32 weights (default 32); "
              "bf16-mixed needs pip install 'strided[amp]'; see docs/mixed-precision.md")


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
    if not 0 < settings["val_split"] < 1:
        raise ValueError(f"--val-split must be between 0 and 1, got {settings['val_split']}")
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
    import strided as st

    from ..data import DataLoader, compute_mean_std, stratified_split
    from ..data import transforms as T
    from ..data.preprocess import Preprocessing
    from ..io.atomic import atomic_write_bytes
    from .datasets import open_dataset

    settings = settings_from(args)
    precision = st.amp.get_precision(settings["precision"])  # before any long work: bf16 needs ml_dtypes
    out = Path(settings["out"])
    checkpoint = out / "checkpoint.safetensors"
    if out.exists() and any(out.iterdir()) and not args.resume:
        raise ValueError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    if args.resume and not checkpoint.is_file():
        raise FileNotFoundError(2, "no checkpoint to resume from", str(checkpoint))
    st.manual_seed(settings["seed"])
    size = (settings["image_size"],) * 2
    full, has_test = open_dataset(settings["dataset"], settings["data_dir"], True, settings["mode"], size)
    train_part, val_part = stratified_split(full, [1 - settings["val_split"], settings["val_split"]],
                                            seed=settings["seed"])
    images, _ = full[:1]
    channels, height, width = images.shape[1:]
    mean, std = compute_mean_std(train_part)
    preprocessing = Preprocessing("L" if channels == 1 else "RGB", (height, width), mean, std)
    normalise = preprocessing.transform().transforms
    train_loader = DataLoader(train_part, settings["batch_size"], shuffle=True, seed=settings["seed"],
                              transform=T.Compose(augmentation(settings["augment"], (height, width)) + normalise))
    val_loader = DataLoader(val_part, 256, transform=T.Compose(normalise))

    model = st.models.build_model(settings["model"], num_classes=len(full.classes), in_channels=channels)
    optimizer = build_optimizer(settings, model.parameters())
    scheduler, interval = build_scheduler(settings, optimizer, len(train_loader))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "config.json", (json.dumps(settings, indent=2) + "\n").encode())
    trainer = st.train.Trainer(
        model, optimizer, st.nn.CrossEntropyLoss(label_smoothing=settings["label_smoothing"]),
        scheduler=scheduler, scheduler_interval=interval, warmup_steps=settings["warmup_steps"], run_dir=out,
        progress=False if args.quiet else settings["progress"], verbose=0 if args.quiet else 1,
        class_names=full.classes, precision=precision)
    history = trainer.fit(train_loader, val_loader, epochs=settings["epochs"], checkpoint_path=checkpoint,
                          resume=args.resume)
    final = history[-1] if len(history) else {}
    metrics = {k: float(v) for k, v in final.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    st.save(model, out / "model.safetensors", name=f"{settings['model']}-{settings['dataset']}".replace("/", "_"),
            class_names=list(full.classes), input_shape=[channels, height, width],
            preprocessing=preprocessing.to_dict(), metrics=metrics)
    if has_test:
        test_set, _ = open_dataset(settings["dataset"], settings["data_dir"], False)
        metrics["test_accuracy"] = trainer.evaluate(DataLoader(test_set, 256, transform=T.Compose(normalise)))[
            "accuracy"]
    summary = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    print(f"saved {out / 'model.safetensors'} ({summary})")
    return 0
