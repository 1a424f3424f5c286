# One image for every service of docker-compose.yml: api, worker, scheduler, emulator, migrate.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv
RUN useradd --create-home --uid 10001 reprotect
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY workers ./workers
COPY emulator ./emulator
COPY cli ./cli
COPY migrations ./migrations
RUN pip install --no-cache-dir . && mkdir -p /srv/var && chown reprotect /srv/var
USER reprotect
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
ENTRYPOINT ["reprotect"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
