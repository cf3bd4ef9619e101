"""The GPU host's wheel set (benchmarks/gpu_wheels.py): which requirements apply on the host, and that a set
missing one is found out, on wheels made here (the download itself needs the package index, never a test)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gpu_wheels  # noqa: E402


def fake_wheel(directory: Path, name: str, requires: list[str]) -> Path:
    path = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: " + name + "\n"
                         + "".join(f"Requires-Dist: {r}\n" for r in requires))
    return path


def test_only_requirements_that_apply_on_the_host_count(tmp_path) -> None:
    wheel = fake_wheel(tmp_path, "pkg", ["numpy>=1.2", 'tomli; python_version < "3.11"',
                                        'pywin32; sys_platform == "win32"', 'pytest; extra == "test"',
                                        'typing-extensions; python_version >= "3.8"'])
    assert [r.name for r in gpu_wheels.wheel_requirements(wheel)] == ["numpy", "typing-extensions"]


def test_a_set_missing_a_requirement_is_found_out(tmp_path) -> None:
    wheels = [fake_wheel(tmp_path, "nevergrad", ["cma>=3", "numpy", "torch"]), fake_wheel(tmp_path, "cma", ["numpy"])]
    assert gpu_wheels.missing(wheels, {"numpy"}) == []
    assert gpu_wheels.missing(wheels[:1], {"numpy"}) == ["nevergrad needs cma>=3"]


def test_the_host_list_and_the_project_requirements(tmp_path) -> None:
    listing = tmp_path / "have.txt"
    listing.write_text("# the image\nNumPy, scikit_learn\nclick\n")
    assert gpu_wheels.host_packages(listing) == {"numpy", "scikit-learn", "click"}
    names = {r.name for r in gpu_wheels.project_requirements()}
    assert {"nevergrad", "pymoo", "click", "tabulate", "datasets"} <= names and not names & {"torch", "torchvision"}
