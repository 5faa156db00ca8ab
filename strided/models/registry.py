"""The table of model builders, by name.

Each builder in strided.models is a plain function returning a Module, decorated with
``@register_model``. The decorator does two things: it lists the builder under its name (so the
command line can say ``--model resnet_cifar``), and it remembers on the returned model how it was
built (``model.builder = {"name": ..., "kwargs": {...}}``), so that a model file can rebuild the
same architecture later without any user code.
"""

import functools
import inspect

MODEL_BUILDERS = {}


def register_model(builder):
    """Decorator: list ``builder`` by name and tag each model it returns with its arguments."""
    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def build(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        model = builder(*bound.args, **bound.kwargs)
        object.__setattr__(model, "builder", {"name": builder.__name__, "kwargs": dict(bound.arguments)})
        return model

    MODEL_BUILDERS[builder.__name__] = build
    return build


def build_model(name: str, **kwargs):
    """Build a registered model by name; a clear error lists the known names."""
    if name not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODEL_BUILDERS))}")
    return MODEL_BUILDERS[name](**kwargs)
