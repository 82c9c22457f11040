# syntax=docker/dockerfile:1.7
# Build: docker build -t registry .
# Run:   docker run -p 8000:8000 -e REGISTRY_SECRET_KEY=... -e REGISTRY_DATABASE_URL=postgresql://... registry
# Scale-out (README "Scale-out"): the same image, with REGISTRY_BROKER_URL and REGISTRY_STORAGE_URL
# set everywhere, runs the API as above and each worker with the command `registry worker`
# (add `--beat` on exactly one); workers need no port and no health check.

FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (cached layer), then the project itself.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY registry ./registry
COPY web ./web
COPY alembic ./alembic
COPY alembic.ini README.md ./
# Editable install: the package finds web/ and alembic/ beside it in /app.
RUN uv sync --frozen --no-dev

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system registry && useradd --system --gid registry --home /app registry \
    && mkdir -p /data && chown registry:registry /data
WORKDIR /app
COPY --from=build --chown=registry:registry /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    REGISTRY_ENV=production \
    REGISTRY_VAR_DIR=/data
USER registry
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# `registry serve` applies the migrations before it starts listening.
CMD ["registry", "serve", "--host", "0.0.0.0", "--port", "8000"]
