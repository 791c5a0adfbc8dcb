# One image for every DOMS process; the command picks it: migrate, seed, worker, api, bench.
# The Locust services of docker-compose.yml run `locust` from it too.
FROM python:3.11.11-slim-bookworm

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

# The installed package runs from site-packages. /src keeps the sources for Locust, which
# takes its locustfile by path (docker-compose.yml: locust -f loadtest/locustfile.py).
WORKDIR /home/doms
USER doms
ENTRYPOINT ["doms"]
CMD ["--help"]
