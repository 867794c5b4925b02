# Dajian's production image: web (gunicorn), worker and beat all run from it; every
# setting comes from the environment (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=dajian.settings \
    DAJIAN_VAR_DIR=/var/lib/dajian \
    DAJIAN_MEDIA_ROOT=/var/lib/dajian/media

COPY pyproject.toml README.md /src/
COPY dajian /src/dajian
RUN pip install /src \
    && rm -rf /src \
    && useradd --system --home-dir /var/lib/dajian --shell /usr/sbin/nologin dajian \
    && mkdir -p /var/lib/dajian/media \
    && chown -R dajian:dajian /var/lib/dajian

USER dajian
WORKDIR /var/lib/dajian
EXPOSE 8000
CMD ["gunicorn", "dajian.wsgi", "--workers", "2", "--bind", "0.0.0.0:8000"]
