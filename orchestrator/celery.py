"""Where `celery -A orchestrator ...` finds the Celery app: Celery looks for an `app` in the
package and then in its module `celery` (celery.app.utils.find_app), this one. Importing it
loads the app and its signals (`orchestrator.entrypoints.celery_app`)."""

from orchestrator.entrypoints.celery_app import app

__all__ = ["app"]
