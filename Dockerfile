# syntax=docker/dockerfile:1.7
# Build: docker build -t registry .
# Run:   docker run -p 8000:8000 -e REGISTRY_SECRET_KEY=... -e REGISTRY_DATABASE_URL=postgresql://... registry
# Scale-out: compose.yaml runs the whole topology on one machine (PostgreSQL, Redis, SeaweedFS,
# the web app, workers, one beat); README "Running it as a service" for several machines.

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
# pg_dump and pg_restore for `registry backup` / `registry restore` on PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system registry && useradd --system --gid registry --home /app registry \
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
