# feedsvc container image.
#
#   docker build -t feedsvc .                       # python:3.12-slim
#   docker build --build-arg BASE_IMAGE=... .       # any Debian-like image with python3 + venv
#   docker run --rm -p 127.0.0.1:8080:8080 feedsvc  # serves the seeds shipped in the image
#
# The package is installed into a virtualenv (/opt/feedsvc) rather than the
# system interpreter, so the same file works on python:*-slim and on Debian's
# own python3 (where pip refuses system installs: PEP 668).

ARG BASE_IMAGE=python:3.12-slim

# ---------------------------------------------------------------- build stage
FROM ${BASE_IMAGE} AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python3 -m venv /opt/feedsvc
ENV PATH=/opt/feedsvc/bin:$PATH

WORKDIR /src

# Dependencies first, exactly the lock (`make lock`; every package pinned, with hashes, for every
# platform and Python >= 3.11 at once), so that editing the code does not reinstall them. The build
# backend (setuptools, build.txt) goes in before: feedgen (an sdist) and feedsvc are built with it,
# without build isolation, so nothing unlocked is fetched.
COPY requirements/build.txt requirements/service.txt ./requirements/
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/build.txt \
 && pip install --no-cache-dir --require-hashes --no-deps --no-build-isolation -r requirements/service.txt

# Then the package itself, without dependencies (the lock has them all: pip check says so).
COPY pyproject.toml README.md ./
COPY feedsvc ./feedsvc
# pip and setuptools are not needed at run time: drop them from the venv that is shipped.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && pip check \
 && feedsvc serve --help >/dev/null \
 && python -m pip uninstall -y -q pip setuptools wheel

# ---------------------------------------------------------------- edge (compose profile `edge`)
# nginx as a caching proxy in front of the replicas: docs/edge/nginx.conf. Built only when asked
# for (`--target edge`, or compose's edge service); the default target is the service below.
FROM ${BASE_IMAGE} AS edge
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10002 edge \
 && useradd --uid 10002 --gid edge --no-create-home --home-dir /tmp --shell /usr/sbin/nologin edge
COPY docs/edge/nginx.conf docs/edge/listen.conf docs/edge/upstream.conf /etc/feedsvc-edge/
# Unprivileged, on a read-only root: everything nginx writes (pid, temp files, cache) is under /tmp.
USER 10002:10002
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
STOPSIGNAL SIGQUIT
ENTRYPOINT ["nginx", "-p", "/tmp/", "-c", "/etc/feedsvc-edge/nginx.conf", "-e", "stderr", "-g", "daemon off;"]

# ---------------------------------------------------------------- runtime stage
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/feedsvc/bin:$PATH \
    FEEDSVC_HOST=0.0.0.0 \
    FEEDSVC_PORT=8080 \
    FEEDSVC_SEEDS=/seeds \
    FEEDSVC_STATE_DIR=/var/lib/feedsvc

# Unprivileged user; the state folder is created and owned by it here so that a
# named volume mounted on /var/lib/feedsvc starts out with that ownership.
RUN groupadd --gid 10001 feedsvc \
 && useradd --uid 10001 --gid feedsvc --no-create-home \
        --home-dir /var/lib/feedsvc --shell /usr/sbin/nologin feedsvc \
 && mkdir -p /var/lib/feedsvc /seeds \
 && chown feedsvc:feedsvc /var/lib/feedsvc \
 && chmod 0750 /var/lib/feedsvc

COPY --from=build /opt/feedsvc /opt/feedsvc
# The documents ship in the image so it runs standalone; compose bind-mounts ./seeds over them.
COPY seeds /seeds

USER 10001:10001
WORKDIR /var/lib/feedsvc
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]

# aiohttp's run_app shuts down gracefully on SIGTERM (and SIGINT).
STOPSIGNAL SIGTERM
ENTRYPOINT ["feedsvc"]
CMD ["serve"]
