# syntax=docker/dockerfile:1.7
# uniads-bench container: `docker run --gpus all --ipc=host -v DATA:/data:ro -v RESULTS:/results uniads-bench imagenet`
# The default torch wheel on the package index is a CUDA build that also runs on CPU; TORCH_INDEX_URL picks
# another wheel index (a CPU-only or older-CUDA build). A CA bundle for pip behind a TLS-intercepting proxy
# can be passed as the BuildKit secret `ca` (docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UNIADS_CACHE=/cache \
    UNIADS_DATA_DIR=/data \
    UNIADS_OUT=/results/runs \
    UNIADS_LEADERBOARD_DIR=/results/leaderboards \
    HF_DATASETS_OFFLINE=1

RUN useradd --create-home --uid 1000 bench \
    && mkdir -p /data /cache /results \
    && chown bench:bench /cache /results

WORKDIR /opt/uniads-bench
COPY pyproject.toml README.md ./
COPY uniads_bench ./uniads_bench
COPY baselines ./baselines

RUN --mount=type=secret,id=ca,required=false \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install --index-url "$TORCH_INDEX_URL" torch==2.14.1 torchvision==0.29.1; \
    fi; \
    pip install .

USER bench
WORKDIR /results
VOLUME ["/cache", "/results"]
ENTRYPOINT ["uniads-bench"]
CMD ["--help"]
