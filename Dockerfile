# uniads-bench container image.
#
#   docker run --rm --gpus all --ipc=host -v DATA:/data:ro -v CACHE:/cache -v RESULTS:/results uniads-bench imagenet
#
# Build (BuildKit; the Dockerfile uses only features of the frontend built into the engine, so no frontend image is
# pulled and it builds offline from a local base image):
#
#   DOCKER_BUILDKIT=1 docker build -t uniads-bench .
#     --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt   CA bundle for pip behind a TLS-intercepting proxy
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu   torch/torchvision from another wheel index
#                                                               (CPU-only, or an older CUDA such as .../whl/cu126)
#     --build-arg BASE_IMAGE=...                                 another Python 3.11+ base (the venv keeps it PEP 668-safe)
#     --build-context wheels=DIR        (buildx) a directory of wheels to install the dependencies from
#     --build-arg WHEELS_IMAGE=NAME     (any BuildKit client) the same, from an image whose root holds the wheels
#
# The torch and torchvision pins are read from pyproject.toml at build time, so the image cannot drift from it.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG WHEELS_IMAGE=scratch

# Optional local wheels, bind-mounted into the install step (nothing is copied into the image). Empty by default.
# A complete set (`pip download -d DIR -r requirements`) installs every dependency offline with --no-index; from an
# incomplete one, pip falls back to the index and may still prefer the index's copy of the same version.
# hadolint ignore=DL3006
FROM ${WHEELS_IMAGE} AS wheels

FROM ${BASE_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    UNIADS_DATA_DIR=/data \
    UNIADS_CACHE=/cache \
    UNIADS_OUT=/results/runs \
    UNIADS_LEADERBOARD_DIR=/results/leaderboards \
    UNIADS_COMMITTED_BOARDS=/opt/uniads-bench/leaderboards \
    TORCH_HOME=/cache/torch \
    HF_HOME=/cache/huggingface \
    HF_DATASETS_OFFLINE=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# A virtual environment works the same on the official Python image and on a distribution Python that refuses
# system-wide pip installs (PEP 668). /cache and /results stay writable for any --user.
RUN python3 -m venv /opt/venv \
    && useradd --create-home --uid 1000 --user-group --shell /bin/sh bench \
    && mkdir -p /data /cache /results \
    && chown bench:bench /cache /results \
    && chmod 1777 /cache /results

WORKDIR /opt/uniads-bench

# Dependencies first, keyed on pyproject.toml alone: editing the code does not reinstall torch.
# TORCH_INDEX_URL: another wheel index for torch and torchvision only (the rest comes from the default index).
ARG TORCH_INDEX_URL=""
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca,required=false \
    --mount=type=bind,from=wheels,target=/wheels \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
        pyproject.toml > /tmp/requirements.txt; \
    offline=0; \
    if [ -n "$(ls -A /wheels)" ] && pip install --no-index --find-links /wheels -r /tmp/requirements.txt; then \
        offline=1; echo "dependencies installed from the local wheels alone"; \
    fi; \
    if [ "$offline" = 0 ] && [ -n "$TORCH_INDEX_URL" ]; then \
        grep -E '^(torch|torchvision)==' /tmp/requirements.txt > /tmp/torch.txt; \
        pip install --find-links /wheels --index-url "$TORCH_INDEX_URL" -r /tmp/torch.txt; \
    fi; \
    if [ "$offline" = 0 ]; then pip install --find-links /wheels -r /tmp/requirements.txt; fi; \
    rm -f /tmp/requirements.txt /tmp/torch.txt

# The package itself (no dependency changes: everything it needs is installed above).
COPY README.md ./
COPY uniads_bench ./uniads_bench
COPY baselines ./baselines
# The committed boards, shown by `leaderboard show SUITE` until /results holds a board of its own.
COPY leaderboards ./leaderboards
RUN --mount=type=secret,id=ca,required=false \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && pip check \
    && uniads-bench --help > /dev/null

# The commit the image was built from, for the provenance of leaderboard rows (the image has no .git).
ARG GIT_COMMIT=unknown
ENV UNIADS_GIT_COMMIT=${GIT_COMMIT}

USER 1000:1000
WORKDIR /results
VOLUME ["/cache", "/results"]
ENTRYPOINT ["uniads-bench"]
CMD ["--help"]
