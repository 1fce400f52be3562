# syntax=docker/dockerfile:1.7
# One image for the cloud (API replicas and the worker) and the agent; three stages:
#   web    builds the fleet UI (npm ci + vite build)        -> /web/dist
#   build  builds the Python wheel and installs it in a venv -> /venv
#   run    a slim runtime with the venv, the UI and a non-root user

FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY dashboards/web/package.json dashboards/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboards/web/ ./
RUN npm run build

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contract/ contract/
COPY firmware_bridge/ firmware_bridge/
COPY edge_agent/ edge_agent/
COPY cloud/ cloud/
COPY slicing/ slicing/
COPY dashboards/ dashboards/
COPY threedpot/ threedpot/
RUN /venv/bin/pip install --upgrade pip && /venv/bin/pip install .

FROM python:3.11-slim-bookworm AS run
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/3dpot --uid 10001 threedpot
COPY --from=build /venv /venv
COPY --from=web /web/dist /opt/3dpot/web
COPY deploy/docker/agent-entrypoint.sh /usr/local/bin/agent-entrypoint
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 THREEDPOT_CLOUD_WEB_DIR=/opt/3dpot/web
USER threedpot
WORKDIR /var/lib/3dpot
EXPOSE 8080 5000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
CMD ["3dpot", "cloud", "--host", "0.0.0.0", "--port", "8080"]
