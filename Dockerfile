# One image for every DOMS process; the command picks it: migrate, seed, worker, api, bench.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DOMS_VAR_DIR=/var/lib/doms

WORKDIR /src
COPY . .
RUN pip install . \
    && useradd --system --create-home --uid 10001 doms \
    && mkdir -p /var/lib/doms \
    && chown doms /var/lib/doms

# The installed package runs from site-packages; /src only served the build.
WORKDIR /home/doms
USER doms
ENTRYPOINT ["doms"]
CMD ["--help"]
