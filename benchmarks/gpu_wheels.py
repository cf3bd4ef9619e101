"""Wheels for a bare GPU host: every runtime dependency of uniads-bench its image lacks, for CPython 3.12 on
manylinux x86-64, so a device call installs them offline (`pip install --no-index --no-deps --target`).

The host brings its own torch and torchvision (2.11 / 0.26 there; the package does not depend on the pin in
pyproject.toml) and the packages listed in ``--have`` (default ``benchmarks/gpu_host_packages.txt``, the
host image's package list). The script resolves the rest by hand, one wheel at a time with ``--no-deps``,
reading each wheel's ``Requires-Dist`` with its environment markers evaluated for the host, so nothing the
host already has is fetched again. It then checks that the set is complete (every requirement of every
wheel is in the set or on the host) and within ``--limit-mib`` (the device carries 64 MiB per call, the
working tree included), and writes ``manifest.json`` (files, sizes, sha256, who needs what) beside them.

Usage: ``python benchmarks/gpu_wheels.py [--out .whl] [--have FILE] [--limit-mib 40]`` (needs the package
index; nothing else here does).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
HOST_BRINGS = {"torch", "torchvision"}
# The host's interpreter, for evaluating environment markers (Python 3.12 on Linux x86-64).
HOST = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux", "os_name": "posix",
        "platform_system": "Linux", "platform_machine": "x86_64", "platform_python_implementation": "CPython",
        "implementation_name": "cpython", "extra": ""}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]


def project_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """The runtime dependencies the host does not bring itself."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [r for r in map(Requirement, deps) if canonicalize_name(r.name) not in HOST_BRINGS]


def host_packages(path: Path) -> set[str]:
    """Canonical names of the packages the host image has (one per line or comma-separated; # comments)."""
    text = re.sub(r"#.*", "", path.read_text())
    return {canonicalize_name(n) for n in re.split(r"[,\s]+", text) if n}


def wheel_name(wheel: Path) -> str:
    return canonicalize_name(wheel.name.split("-")[0])


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The requirements a wheel declares that apply on the host (markers evaluated, extras left out)."""
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    found = []
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.split(":", 1)[1].strip())
        if requirement.marker is None or Marker(str(requirement.marker)).evaluate(HOST):
            found.append(requirement)
    return found


def missing(wheels: list[Path], have: set[str]) -> list[str]:
    """Requirements of the set that neither the set nor the host satisfies by name."""
    names = {wheel_name(w) for w in wheels} | have | HOST_BRINGS
    return sorted(f"{wheel_name(w)} needs {r}" for w in wheels for r in wheel_requirements(w)
                  if canonicalize_name(r.name) not in names)


def download(requirement: Requirement, out: Path) -> Path:
    """One wheel for the host, without its dependencies; returns its path."""
    before = set(out.glob("*.whl"))
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(out), str(requirement)]
    subprocess.run(command, check=True)
    new = set(out.glob("*.whl")) - before
    matching = [w for w in (new or set(out.glob("*.whl"))) if wheel_name(w) == canonicalize_name(requirement.name)]
    if not matching:
        raise RuntimeError(f"pip saved no wheel for {requirement}")
    return max(matching, key=lambda w: w.stat().st_mtime)


def resolve(requirements: list[Requirement], have: set[str], out: Path) -> dict[str, dict]:
    """Download the closure of `requirements` minus what the host has; per wheel, who asked for it."""
    queue = [(r, "uniads-bench") for r in requirements]
    chosen: dict[str, dict] = {}
    while queue:
        requirement, wanted_by = queue.pop(0)
        name = canonicalize_name(requirement.name)
        if name in have or name in HOST_BRINGS:
            continue
        if name in chosen:
            chosen[name]["needed_by"].append(wanted_by)
            continue
        wheel = download(requirement, out)
        chosen[name] = {"file": wheel.name, "needed_by": [wanted_by]}
        queue += [(r, name) for r in wheel_requirements(wheel)]
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".whl")
    parser.add_argument("--have", type=Path, default=Path(__file__).with_name("gpu_host_packages.txt"))
    parser.add_argument("--limit-mib", type=float, default=40.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    have = host_packages(args.have)
    chosen = resolve(project_requirements(), have, args.out)
    wheels = [args.out / entry["file"] for entry in chosen.values()]
    for stale in set(args.out.glob("*.whl")) - set(wheels):
        stale.unlink()  # one version of each package: two stop the whole install
    total = sum(w.stat().st_size for w in wheels)
    problems = missing(wheels, have)
    if total > args.limit_mib * 2**20:
        problems.append(f"{total / 2**20:.1f} MiB of wheels exceed the limit of {args.limit_mib:g} MiB")
    manifest = {"python": "3.12", "platforms": PLATFORMS, "total_mib": round(total / 2**20, 2),
                "wheels": {name: {**entry, "bytes": (args.out / entry["file"]).stat().st_size,
                                  "sha256": hashlib.sha256((args.out / entry["file"]).read_bytes()).hexdigest()}
                           for name, entry in sorted(chosen.items())},
                "host_has": sorted(have), "problems": problems}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for entry in manifest["wheels"].values():
        print(f"{entry['bytes'] / 2**20:7.2f} MiB  {entry['file']}  (needed by {', '.join(entry['needed_by'])})")
    print(f"{len(wheels)} wheels, {total / 2**20:.1f} MiB in {args.out}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
