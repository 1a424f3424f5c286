# syntax=docker/dockerfile:1
# Two images from one file (docs/deployment.md):
#   docker build -t reprotect:TAG .                              the service: api, worker, scheduler, migrate
#   docker build --target emulator -t reprotect-emulator:TAG .   the Azure Site Recovery emulator (demo, tests)
# Layers: a virtualenv built from the hash-checked lock only (requirements/*.lock), then the code, so a code change
# reuses the dependency layer. The production image has neither the emulator package nor PyYAML.
#
# Base pinned by digest: python:3.11.15-slim-bookworm as published on Docker Hub (multi-arch index digest; this
# pin was not pulled from here, no engine: check it with `docker buildx imagetools inspect
# python:3.11.15-slim-bookworm` and refresh tag and digest together).
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm@sha256:d29f48a31a8b408ed19272ca1e7b10ebae13b240a27e862d3d4217c528e2e0c3

FROM ${PYTHON_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# --- builders: one virtualenv per lock, nothing but the lock's files (each hash checked, no resolution); the base
# image's pip installs into it, so the venv carries no pip or setuptools of its own ---
FROM python AS runtime-venv
COPY requirements/runtime.lock /tmp/runtime.lock
RUN python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --require-hashes --no-deps -r /tmp/runtime.lock

FROM python AS emulator-venv
COPY requirements/emulator.lock /tmp/emulator.lock
RUN python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --require-hashes --no-deps -r /tmp/emulator.lock

# --- what both final images share: the non-root user, the venv on PATH, the code importable from /srv ---
FROM python AS service-base
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /srv reprotect \
    && mkdir -p /srv/var && chown reprotect:reprotect /srv/var
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv PYTHONPATH=/srv
WORKDIR /srv

# --- the emulator image: the emulator package alone (it imports nothing of app/) ---
FROM service-base AS emulator
COPY --from=emulator-venv /opt/venv /opt/venv
COPY emulator ./emulator
COPY cli/__init__.py cli/healthcheck.py ./cli/
USER 10001:10001
EXPOSE 8900
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "cli.healthcheck", "emulator"]
ENTRYPOINT ["python", "-m", "emulator"]
CMD ["--host", "0.0.0.0", "--port", "8900", "--scenario", "demo"]

# --- the production image (the default target: keep it last) ---
FROM service-base AS production
COPY --from=runtime-venv /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
COPY workers ./workers
COPY cli ./cli
USER 10001:10001
EXPOSE 8000
# One image, several processes: `auto` reads PID 1's command line and runs that process's check (api: /healthz,
# worker and scheduler: the beat file their heartbeat touches is fresh). Compose and Kubernetes also name the
# process explicitly.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "cli.healthcheck", "auto"]
ENTRYPOINT ["python", "-m", "cli"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
