"""acutance: fast, measured image and video enhancement.

The top level stays light: it imports nothing heavy, and ``load_model`` imports only the module of the
model asked for.
"""

from acutance.errors import AcutanceError
from acutance.models.registry import list_models, load_model, model_info

__all__ = ["AcutanceError", "list_models", "load_model", "model_info"]
__version__ = "0.1.0"
