"""What a result row must carry to be trusted: code version, config hash, software and hardware."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

import uniads_bench
from uniads_bench.engine.calibrate import cpu_model


def hardware_name(device: torch.device) -> str:
    """A short name of the device that trained: the GPU model, or the CPU model and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({_cpu_count()} cores)"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def git_state() -> dict[str, Any]:
    """Commit and dirty flag of the source tree, when it is a git checkout; in an image built without `.git`,
    the commit the image was built from (`UNIADS_GIT_COMMIT`, set by the Dockerfile's GIT_COMMIT argument)."""
    if os.environ.get("UNIADS_GIT_COMMIT"):
        return {"git_commit": os.environ["UNIADS_GIT_COMMIT"], "git_dirty": False}
    root = Path(uniads_bench.__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {"git_commit": commit or "unknown", "git_dirty": dirty}


def provenance(device: torch.device, config_hash: str) -> dict[str, Any]:
    """Everything recorded with a run: code, config, software, hardware."""
    info: dict[str, Any] = {
        "package_version": uniads_bench.__version__,
        "config_hash": config_hash,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "",
        "cudnn": str(torch.backends.cudnn.version() or ""),
        "device": str(device),
        "hardware": hardware_name(device),
        "cpu": cpu_model(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["driver"] = _nvidia_driver()
    info.update(git_state())
    return info


def _nvidia_driver() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10,
        )
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""
