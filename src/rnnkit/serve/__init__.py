"""`rnnkit serve`: trained runs over HTTP (FastAPI + uvicorn), with micro-batching and limits.

    app.py      the application: endpoints, limits, errors as status codes
    batcher.py  one worker per model, which batches concurrent requests
    models.py   a loaded run per task and how it answers a batch
    schemas.py  what each endpoint takes
"""

from .app import Limits, create_app, is_loopback
from .models import load_served

__all__ = ["Limits", "create_app", "is_loopback", "load_served"]
