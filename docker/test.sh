#!/usr/bin/env bash
# Proves the container: builds the image with BuildKit and runs the CLI and a tiny digits benchmark inside it.
#
#   docker/test.sh            (make docker-test)
#
# 1. Engine: uses a running Docker engine; otherwise starts `dockerd` (Debian's docker.io, installed when root and
#    missing) with its data and exec roots in a temporary directory, and stops it by pid at the end.
# 2. Base image: uses $BASE_IMAGE when present or pullable; otherwise builds a stand-in under that name from Debian
#    packages (debootstrap bookworm: python3 3.11, python3-venv, python3-pip, ca-certificates) and `docker import`s it.
# 3. Builds the image with BuildKit, passing the host CA bundle as the secret `ca`, and local wheels when a wheel
#    directory is given or found (see UNIADS_WHEELS below).
# 4. Runs `uniads-bench --help`, `doctor` and the digits suite at budget scale 0.2, seed 0, as the image's non-root
#    user without network, and checks the leaderboard JSON written to the mounted /results.
#
# Environment:
#   DOCKER_TEST_ROOT  keep the engine's data root here (warm cache across runs); default: a temporary one, removed
#   UNIADS_WHEELS     a directory of wheels for the dependencies; "none": install them from the index in the build;
#                     default "auto": the host's pip downloads them (where the host runs CPython 3.11 on x86_64)
#   CA_BUNDLE         CA bundle passed as the build secret; default /etc/ssl/certs/ca-certificates.crt if present
#   IMAGE, BASE_IMAGE, TORCH_INDEX_URL, DEBIAN_MIRROR
#
# Exit codes: 0 passed; 77 skipped (no engine can be started here, e.g. not root and none running); other: failed.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-uniads-bench:test}
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}
WHEELS_IMAGE=uniads-bench-wheels:local
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}

t0=$(date +%s)
say() { printf '[docker-test %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
skip() { say "SKIPPED: $*"; exit 77; }
fail() { say "FAILED: $*"; exit 1; }

work=$(mktemp -d /tmp/uniads-docker-test.XXXXXX)
dockerd_pid=""
engine_root=""
cleanup() {
    local rc=$?
    if [ -n "$dockerd_pid" ]; then
        say "stopping dockerd (pid $dockerd_pid)"
        kill "$dockerd_pid" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
        kill -0 "$dockerd_pid" 2>/dev/null && kill -9 "$dockerd_pid" 2>/dev/null
        # Mounts that a killed engine may leave behind would make the data root impossible to remove.
        awk -v root="$engine_root" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r \
            | xargs -r -n1 umount -l 2>/dev/null || true
    fi
    if [ $rc -ne 0 ] && [ -f "$work/dockerd.log" ]; then
        say "last lines of dockerd.log:"; tail -n 20 "$work/dockerd.log" || true
    fi
    rm -rf "$work"
    [ -n "$engine_root" ] && [ -z "${DOCKER_TEST_ROOT:-}" ] && rm -rf "$engine_root"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the client: one that speaks BuildKit ------------------------------------------------------------------------
# Docker >= 23 builds with BuildKit only through the buildx plugin; Debian bookworm's docker.io (20.10) has BuildKit
# built into its client and engine but no --build-context, so local wheels go in as an image (WHEELS_IMAGE) there.
if [ -z "${DOCKER:-}" ]; then
    if command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then DOCKER=docker
    elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Debian's docker.io"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; } \
            || skip "docker.io could not be installed"
        DOCKER=/usr/bin/docker
    else
        skip "no Docker client with BuildKit (docker buildx, or Debian's docker.io)"
    fi
fi
export DOCKER_BUILDKIT=1
has_buildx=0
$DOCKER buildx version >/dev/null 2>&1 && has_buildx=1

# --- the engine ----------------------------------------------------------------------------------------------------
if $DOCKER info >/dev/null 2>&1; then
    say "using the running engine ($($DOCKER version --format '{{.Server.Version}}'))"
else
    [ "$(id -u)" = 0 ] || skip "no engine is running and only root can start one"
    if ! command -v dockerd >/dev/null; then
        command -v apt-get >/dev/null || skip "no dockerd and no apt-get to install it"
        say "installing Debian's docker.io for dockerd"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; } \
            || skip "docker.io could not be installed"
    fi
    engine_root=${DOCKER_TEST_ROOT:-$work/engine}
    mkdir -p "$engine_root/data" "$work/exec"
    export DOCKER_HOST="unix://$work/docker.sock"
    say "starting dockerd (data root $engine_root/data)"
    dockerd --data-root "$engine_root/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
        --host "$DOCKER_HOST" >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 60); do
        $DOCKER info >/dev/null 2>&1 && break
        kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$work/dockerd.log"; dockerd_pid=""; \
            skip "dockerd exited at start (this machine may not allow containers)"; }
        sleep 1
    done
    $DOCKER info >/dev/null 2>&1 || skip "dockerd did not answer within 60 s"
    say "engine up ($($DOCKER version --format '{{.Server.Version}}'))"
fi

# --- the base image ------------------------------------------------------------------------------------------------
if $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image $BASE_IMAGE present ($($DOCKER image inspect -f '{{index .Config.Labels "org.uniads-bench.base"}}' \
        "$BASE_IMAGE" 2>/dev/null || true))"
elif timeout 120 $DOCKER pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    say "pulled $BASE_IMAGE"
else
    say "no registry for $BASE_IMAGE: building a stand-in from Debian packages (debootstrap bookworm)"
    command -v debootstrap >/dev/null || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq debootstrap >/dev/null; } || fail "debootstrap is needed for the stand-in base image"
    rootfs=$work/rootfs
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,passwd \
        bookworm "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log"; fail "debootstrap"; }
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | $DOCKER import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV LANG=C.UTF-8' \
        -c 'LABEL org.uniads-bench.base="stand-in: debootstrap bookworm, python3 from Debian"' \
        -c 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    say "stand-in $BASE_IMAGE imported ($($DOCKER run --rm "$BASE_IMAGE" python3 --version))"
fi

# --- local wheels --------------------------------------------------------------------------------------------------
# By default the host's pip (its configuration, caches and CA) fills a complete wheelhouse for pyproject.toml's
# dependencies, so the image installs them offline (--no-index) and the wheels path of the Dockerfile is exercised.
wheels_src=${UNIADS_WHEELS:-auto}
if [ "$wheels_src" = auto ]; then
    wheels_src=""
    if python3 -c 'import platform, sys; sys.exit(sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64")' \
            2>/dev/null; then
        say "prefetching the dependencies' wheels with the host's pip"
        python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
            pyproject.toml >"$work/requirements.txt"
        if python3 -m pip download -q --only-binary=:all: -d "$work/wheels" -r "$work/requirements.txt" \
                >"$work/pip-download.log" 2>&1; then
            wheels_src=$work/wheels
        else
            tail -n 5 "$work/pip-download.log"; say "prefetch failed: the build installs from the index"
        fi
    fi
elif [ "$wheels_src" = none ]; then
    wheels_src=""
fi
build_wheels=()
if [ -n "$wheels_src" ] && [ -n "$(ls -A "$wheels_src" 2>/dev/null)" ]; then
    if [ $has_buildx = 1 ]; then
        build_wheels=(--build-context "wheels=$wheels_src")
        say "local wheels from $wheels_src (build context)"
    else
        key=$(cd "$wheels_src" && find . -type f -printf '%P %s\n' | sort | sha256sum | cut -c1-16)
        if [ "$($DOCKER image inspect -f '{{index .Config.Labels "org.uniads-bench.wheels"}}' "$WHEELS_IMAGE" \
                2>/dev/null || true)" != "$key" ]; then
            say "importing local wheels from $wheels_src as $WHEELS_IMAGE ($(du -shL "$wheels_src" | cut -f1))"
            tar -C "$wheels_src" -ch . | $DOCKER import -c "LABEL org.uniads-bench.wheels=$key" - "$WHEELS_IMAGE" \
                >/dev/null
        fi
        build_wheels=(--build-arg "WHEELS_IMAGE=$WHEELS_IMAGE")
    fi
else
    say "no local wheels: every dependency comes from the index"
fi

# --- build ---------------------------------------------------------------------------------------------------------
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL"
            --build-arg "GIT_COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)" "${build_wheels[@]}")
[ -s "$CA_BUNDLE" ] && build_args+=(--secret "id=ca,src=$CA_BUNDLE")
say "building $IMAGE"
$DOCKER build --progress=plain "${build_args[@]}" -t "$IMAGE" . >"$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log"; fail "docker build"; }
say "built $IMAGE ($($DOCKER image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f GB", $1/1e9}'))"
grep -Eq '^#[0-9]+ [0-9.]+ dependencies installed from the local wheels alone' "$work/build.log" && say "dependencies were installed offline from the local wheels"
grep -q ' CACHED$' "$work/build.log" && say "($(grep -c ' CACHED$' "$work/build.log") steps came from the build cache)"
# A kept data root (DOCKER_TEST_ROOT) would otherwise collect the images that earlier builds left untagged.
[ -n "$dockerd_pid" ] && [ -n "${DOCKER_TEST_ROOT:-}" ] && $DOCKER image prune -f >/dev/null
if [ -z "$dockerd_pid" ] && [ ${#build_wheels[@]} -gt 0 ] && [ $has_buildx = 0 ]; then
    $DOCKER image rm "$WHEELS_IMAGE" >/dev/null 2>&1 || true   # 3 GB that a running engine need not keep
fi

# --- run -----------------------------------------------------------------------------------------------------------
run=($DOCKER run --rm --network none)
uid=$($DOCKER run --rm --network none --entrypoint id "$IMAGE" -u)
[ "$uid" != 0 ] || fail "the image runs as root"
say "runs as uid $uid"

"${run[@]}" "$IMAGE" --help | grep -q 'digits' || fail "uniads-bench --help does not list the suites"
say "uniads-bench --help: ok"
"${run[@]}" "$IMAGE" doctor | tee "$work/doctor.txt"
grep -q 'MISSING' "$work/doctor.txt" && fail "doctor reports a missing module"
"${run[@]}" "$IMAGE" leaderboard show digits 2>/dev/null | grep -q '^# Leaderboard: digits' \
    || fail "leaderboard show digits does not show the committed board"
say "leaderboard show digits: the committed board"

results=$work/results cache=$work/cache data=$work/data
mkdir -p "$results" "$cache" "$data"
# The image's user owns nothing on the host: hand it the writable mounts.
if [ "$(id -u)" = 0 ]; then chown "$uid" "$results" "$cache"; else chmod 0777 "$results" "$cache"; fi
say "digits suite, budget scale 0.2, seed 0"
"${run[@]}" -v "$data:/data:ro" -v "$cache:/cache" -v "$results:/results" "$IMAGE" \
    digits --budget-scale 0.2 --seeds 0

say "checking the leaderboard in the mounted /results"
python3 - "$results" <<'EOF'
import json, pathlib, sys

root = pathlib.Path(sys.argv[1])
files = sorted((root / "leaderboards").rglob("*.json"))
if not files:
    sys.exit(f"no leaderboard JSON under {root / 'leaderboards'}: {sorted(map(str, root.rglob('*')))}")
rows = []
for f in files:
    doc = json.loads(f.read_text())
    rows += doc.get("rows", []) if isinstance(doc, dict) else doc
by_method = {r.get("method"): r for r in rows if isinstance(r, dict)}
missing = [m for m in ("vanilla", "kd", "random") if m not in by_method or int(by_method[m].get("n", 0)) < 1]
if missing:
    sys.exit(f"leaderboard rows missing or with n < 1: {missing}; found {sorted(map(str, by_method))} in {files}")
for m in ("vanilla", "kd", "random"):
    r = by_method[m]
    print(f"  {m:8s} n={r['n']} " + " ".join(f"{k}={r[k]}" for k in r if "acc" in k or "top1" in k))
EOF
[ -n "$(find "$results/runs" -name journal.jsonl -print -quit 2>/dev/null)" ] || fail "no run journal under /results/runs"

say "PASSED"
