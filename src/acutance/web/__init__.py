"""The local web page (``acutance serve``): upload, before/after comparison, download; a JSON API behind it.

Needs the ``web`` extra (fastapi, uvicorn, python-multipart).
"""

from acutance.web.jobs import JobManager, WebSettings

__all__ = ["JobManager", "WebSettings", "create_app"]


def create_app(settings: WebSettings | None = None):
    """The FastAPI application (imported here lazily: ``acutance.web.jobs`` needs no FastAPI)."""
    from acutance.web.app import create_app as _create

    return _create(settings)
