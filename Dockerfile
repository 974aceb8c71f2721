# The gqlorders image: the API (`gqlorders serve`), the worker (`gqlorders worker`) and every
# other `gqlorders` command. docker-compose.yml builds it once; containers install nothing.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The Debian packages WeasyPrint needs (Pango, HarfBuzz's subsetter, DejaVu fonts), from the
# one list `make install` uses too, without the packages they only recommend (GLib's data
# files and MIME database, xdg-user-dirs).
COPY scripts/system-deps /tmp/system-deps
RUN DEBIAN_FRONTEND=noninteractive /tmp/system-deps --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/system-deps

# The project itself (not editable): the gqlorders, adapters and workers packages.
COPY pyproject.toml README.md /tmp/gqlorders/
COPY src /tmp/gqlorders/src
COPY adapters /tmp/gqlorders/adapters
COPY workers /tmp/gqlorders/workers
RUN pip install /tmp/gqlorders && rm -rf /tmp/gqlorders

# Run as a user of its own; /data (DATA_DIR: PDFs, .eml files, metrics) belongs to it, and a
# named volume mounted there starts with that ownership.
RUN useradd --create-home --uid 10001 gqlorders && mkdir /data && chown gqlorders: /data
USER gqlorders
WORKDIR /home/gqlorders
ENV DATA_DIR=/data
VOLUME /data
EXPOSE 8000

ENTRYPOINT ["gqlorders"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
