# aadrisk: risk engine with AAD Greeks, served over HTTP (service/README.md).
#   docker build -t aadrisk .
#   docker run --rm -p 8000:8000 -v aadrisk-data:/data aadrisk          # the service
#   docker run --rm -p 8000:8000 -e AADRISK_API_KEYS=secret aadrisk     # with API keys
#   docker run --rm aadrisk aadrisk risk portfolios/demo.json          # the CLI
FROM python:3.11-slim

# NUMBA_CACHE_DIR: Numba's on-disk kernel cache, filled at build time, readable by any user.
# AADRISK_DB_PATH: stored markets, on the /data volume so that they survive the container.
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/var/cache/aadrisk/numba \
    AADRISK_DB_PATH=/data/markets.sqlite3

# Install the package (aadrisk + service) from a throw-away copy of the source, so
# that only the installed copy exists at run time (pyproject.toml needs README.md).
COPY pyproject.toml README.md /tmp/src/
COPY aadrisk /tmp/src/aadrisk
COPY service /tmp/src/service
RUN pip install /tmp/src && rm -rf /tmp/src

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin aadrisk \
    && mkdir -p /app /data "$NUMBA_CACHE_DIR" \
    && chown aadrisk:aadrisk /app /data

WORKDIR /app
COPY portfolios ./portfolios
COPY docs ./docs

# Warm the Numba cache: the first run compiles the kernels (a minute or two), so
# containers answer their first request in seconds. Compiled code is specific to
# the build machine's CPU family; on a different CPU Numba recompiles once.
RUN aadrisk risk portfolios/demo.json --quiet \
    && python -m service.warmup \
    && chmod -R a+rwX /var/cache/aadrisk

USER aadrisk
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=4).status == 200 else 1)"

CMD ["uvicorn", "service.app:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log", \
     "--timeout-keep-alive", "75"]
