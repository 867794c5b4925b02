"""Dajian: a metadata-driven low-code platform for sales organisations."""

from dajian.celery import app as celery_app

__all__ = ["celery_app"]
