# One image for every Glastonbury process: the three services (granian), the payment relay,
# the orchestrator's Celery worker and beat, the Kafka bridge and Flower. docker-compose.yml
# chooses the process with `command`: each part's command as glastonbury/topology.py declares it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
# The locked versions with their hashes, as CI tested them (requirements/image.txt: the
# dependencies and the tracing extra, which traces only when OTEL_EXPORTER_OTLP_ENDPOINT is set),
# then the project alone, built with the locked setuptools: nothing is resolved here.
RUN pip install --require-hashes -r requirements/build.txt \
    && pip install --require-hashes -r requirements/image.txt \
    && pip install --no-deps --no-build-isolation . \
    && groupadd --system --gid 10001 glastonbury \
    && useradd --system --uid 10001 --gid glastonbury --no-log-init \
        --create-home --home-dir /home/glastonbury glastonbury \
    && mkdir -p /var/lib/glastonbury \
    && chown glastonbury:glastonbury /var/lib/glastonbury

# Local state (the beat schedule) lives here; the databases and brokers are other containers.
ENV GLASTONBURY_VAR=/var/lib/glastonbury
# Run from a directory without the sources, so that `python -m` imports the installed package.
WORKDIR /home/glastonbury
USER glastonbury

EXPOSE 8080 8081 8082 8083
CMD ["python", "-c", "print('choose a process: see docker-compose.yml')"]
