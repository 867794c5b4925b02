"""The Celery application; tasks are discovered in each part's ``tasks`` module."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dajian.settings")

app = Celery("dajian")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
