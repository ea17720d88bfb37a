# aadrisk: risk engine with AAD Greeks.
#   docker build -t aadrisk .
#   docker run --rm aadrisk                                     # aadrisk --help
#   docker run --rm aadrisk aadrisk risk portfolios/demo.json
#   docker run --rm -v "$PWD/books:/books" aadrisk aadrisk risk /books/mybook.json
FROM python:3.11-slim

# NUMBA_CACHE_DIR: Numba's on-disk kernel cache, filled at build time, readable by any user.
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/var/cache/aadrisk/numba

# Install the package from a throw-away copy of the source, so that only the
# installed copy exists at run time (pyproject.toml needs README.md for its metadata).
COPY pyproject.toml README.md /tmp/src/
COPY aadrisk /tmp/src/aadrisk
RUN pip install /tmp/src && rm -rf /tmp/src

WORKDIR /app
COPY portfolios ./portfolios
COPY docs ./docs

# Warm the Numba cache: the first run compiles the kernels (about a minute), so
# containers start in seconds. Compiled code is specific to the build machine's
# CPU family; on a different CPU Numba recompiles once per container.
RUN mkdir -p "$NUMBA_CACHE_DIR" \
    && aadrisk risk portfolios/demo.json \
    && chmod -R a+rwX /var/cache/aadrisk

CMD ["aadrisk", "--help"]
