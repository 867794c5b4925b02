"""WSGI entry point (gunicorn ``dajian.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dajian.settings")
application = get_wsgi_application()
