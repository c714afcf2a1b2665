# A slim image that serves Concurrency Lab on 0.0.0.0:8000 as a non-root user.

# Interpreters for experiments beside the server's own 3.11 (app/running/pythons.py offers them as each run's
# `python`): a free-threaded CPython 3.13 (threads without a GIL) and CPython 3.9 (the last whose
# `counter += 1` loses updates), built from python.org's tarballs, their sha256 pinned in the script; and
# the pinned backport that gives 3.13 its InterpreterPoolExecutor (interpreters-cpu), into .pythons/site-packages.
FROM python:3.11-slim AS pythons
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates gcc make xz-utils libffi-dev zlib1g-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY scripts/build-python scripts/experiment-packages ./scripts/
COPY experiments/backports.txt ./experiments/
RUN scripts/experiment-packages \
 && scripts/build-python 3.13.5t \
 && scripts/build-python 3.9.25 \
 && rm -rf .pythons/cache .pythons/*/lib/python3.*/test

FROM python:3.11-slim

# tini as PID 1: reaps the zombies that finished experiment processes leave and forwards SIGTERM,
# so the server's shutdown can kill every running experiment's process group.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 lab

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY experiments ./experiments
COPY lessons ./lessons
COPY templates ./templates
COPY static ./static
COPY --from=pythons /app/.pythons ./.pythons
# Editable, so the server finds templates/ and static/ beside its package, and experiment
# runners (started with PYTHONPATH=/app) import the same experiments/ the server lists.
# constraints.txt pins every package serving needs to the versions `make test` tested.
RUN pip install --no-cache-dir -c constraints.txt -e .

# Runs and their event logs live in SQLite on a volume, owned by lab (created before VOLUME so a
# fresh named volume is initialised with this owner), so they survive a new container.
RUN mkdir -p /data && chown lab:lab /data
VOLUME /data

USER lab
ENV LAB_HOST=0.0.0.0 \
    LAB_PORT=8000 \
    LAB_DATABASE=/data/lab.db \
    PYTHONDONTWRITEBYTECODE=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
ENTRYPOINT ["tini", "--"]
CMD ["concurrency-lab", "--host", "0.0.0.0", "--port", "8000"]
