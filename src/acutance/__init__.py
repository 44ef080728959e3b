"""acutance: fast, measured image and video enhancement.

The top level stays light: it imports nothing heavy (not even numpy: ``acutance --help`` needs none of it),
``list_models``/``load_model``/``model_info`` come from the registry on first use, and ``load_model`` imports
only the module of the model asked for.
"""

from acutance.errors import AcutanceError

__all__ = ["AcutanceError", "list_models", "load_model", "model_info"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # PEP 562: the registry (and numpy with it) is imported when one of its functions is first asked for.
    if name in ("list_models", "load_model", "model_info"):
        from acutance.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'acutance' has no attribute {name!r}")
