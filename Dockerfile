# rltrack team server image (used by docker-compose.yml): rltrack with the server (PostgreSQL) and s3 extras.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rltrack ./rltrack
COPY callbacks ./callbacks
COPY sim2real ./sim2real
RUN pip install ".[server,s3]" && rm -rf /src

# An unprivileged user owns the store folder (run files when --blobs is not used, temporary uploads).
RUN useradd --system --create-home --uid 10001 rltrack && mkdir -p /data && chown rltrack /data
USER rltrack
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["rltrack"]
CMD ["server", "--dir", "/data", "--host", "0.0.0.0", "--port", "8080"]
