# cds-server image: the web server, the Celery worker and the scheduler run from it with different commands
# (docker-compose.yml). Built with the checkout's data folders; configured by CDS_* variables only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml setup.cfg README.md ./
COPY cds_server/__init__.py cds_server/__init__.py
RUN pip install --upgrade pip && pip install -e . && pip uninstall -y cds-server

# The package and the files it serves: mappings, model artifacts, service declarations, migrations.
COPY cds_server ./cds_server
COPY fhir_mappings ./fhir_mappings
COPY model_artifacts ./model_artifacts
COPY cds_services ./cds_services
COPY migrations ./migrations
# editable: data folders resolve relative to /app (CDS_*_DIR defaults)
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home /app cds \
    && mkdir -p /app/instance \
    && chown cds /app/instance

USER cds
# the CDS_* defaults resolve relative paths (SQLite file, development client) against the working directory
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["cds-server", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
