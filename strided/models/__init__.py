"""Model builders: plain functions returning Modules (see registry.py for how they are listed)."""

from .registry import MODEL_BUILDERS, build_model, register_model

__all__ = ["MODEL_BUILDERS", "build_model", "register_model"]
