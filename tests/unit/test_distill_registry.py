"""The registry's three doors (decorator, entry point, FILE.py:CLASS) and its errors."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from uniads_bench.distill import (
    Distiller,
    build_distiller,
    get_distiller,
    list_distillers,
    logit_loss,
    register_distiller,
    registry,
)
from uniads_bench.errors import UserError
from uniads_bench.models.taps import TapDims

DIMS = TapDims(num_classes=5, feature_dim=4)

PLUGIN = """
import torch.nn.functional as F
from uniads_bench.distill import Distiller


class MyKD(Distiller):
    needs = frozenset({"logits"})

    def __init__(self, student, teacher, *, weight=1.0):
        super().__init__(student, teacher)
        self.weight = weight

    def forward(self, student, teacher, target, progress):
        return {"ce": F.cross_entropy(student.logits, target),
                "kd": self.weight * F.mse_loss(student.logits, teacher.logits)}
"""


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test registers into a copy of the registry and re-reads entry points."""
    list_distillers()  # register the in-tree distillers before copying
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    yield


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_in_tree_names() -> None:
    assert {"ce", "kd", "dkd", "dist", "fitnet", "at", "uniads"} <= set(list_distillers())


def test_unknown_name_suggests_nearest_and_lists_registered() -> None:
    with pytest.raises(UserError, match=r"unknown distiller 'dkdd'\. Did you mean 'dkd'\?.*Registered: at, ce"):
        get_distiller("dkdd")


def test_duplicate_name_is_an_error() -> None:
    class Other(Distiller):
        def forward(self, student, teacher, target, progress):  # type: ignore[no-untyped-def]
            return {}

    with pytest.raises(UserError, match="'kd' is registered twice"):
        register_distiller("kd")(Other)


def test_decorator_registers_and_rejects_a_contract_breaker() -> None:
    class NoForward(Distiller):
        pass

    with pytest.raises(UserError, match="does not implement forward"):
        register_distiller("no_forward")(NoForward)
    assert "no_forward" not in list_distillers()


def test_plugin_file(tmp_path: Path) -> None:
    path = write(tmp_path, "my_kd.py", PLUGIN)
    cls = get_distiller(f"{path}:MyKD")
    assert cls.__name__ == "MyKD" and cls.name == "MyKD"
    f = logit_loss(f"{path}:MyKD", weight=2.0)
    logits = torch.zeros(3, 5)
    assert float(f(logits, logits + 1.0, torch.zeros(3, dtype=torch.long))) == pytest.approx(
        2.0 + torch.log(torch.tensor(5.0)).item()
    )


@pytest.mark.parametrize(
    ("source", "spec_class", "message"),
    [
        ("import not_a_module_anywhere\n", "MyKD", "failed to import: ModuleNotFoundError"),
        ("raise RuntimeError('boom')\n", "MyKD", "failed to import: RuntimeError: boom"),
        (PLUGIN, "Missing", "has no class or object 'Missing'"),
        ("class MyKD:\n    pass\n", "MyKD", "is not a subclass of uniads_bench.distill.Distiller"),
        (
            "from uniads_bench.distill import Distiller\nclass MyKD(Distiller):\n    needs = {'logits'}\n"
            "    def forward(self, s, t, y, p):\n        return {}\n",
            "MyKD",
            "needs must be a frozenset",
        ),
        (
            "from uniads_bench.distill import Distiller\nclass MyKD(Distiller):\n"
            "    def __init__(self):\n        super().__init__(None, None)\n"
            "    def forward(self, s, t, y, p):\n        return {}\n",
            "MyKD",
            "cannot be called with two TapDims",
        ),
    ],
    ids=["missing-import", "raises", "no-class", "not-a-distiller", "bad-needs", "bad-constructor"],
)
def test_broken_plugin_file_is_a_user_error(tmp_path: Path, source: str, spec_class: str, message: str) -> None:
    path = write(tmp_path, "broken.py", source)
    with pytest.raises(UserError, match=message):
        get_distiller(f"{path}:{spec_class}")


def test_missing_plugin_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        get_distiller(f"{tmp_path / 'nope.py'}:X")


def test_bad_hyperparameters_list_the_accepted_ones() -> None:
    with pytest.raises(UserError, match=r"accepted: temperature, ce_weight, kd_weight"):
        build_distiller("kd", DIMS, DIMS, {"temprature": 4})


def install_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, source: str) -> None:
    """Make a package importable with a dist-info that declares `name = value` in our entry-point group."""
    package = tmp_path / "thirdparty_kd"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(source))
    dist_info = tmp_path / "thirdparty_kd-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-kd\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{name} = {value}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m.startswith("thirdparty_kd")]:
        monkeypatch.delitem(sys.modules, module)


def test_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_point(tmp_path, monkeypatch, "third_kd", "thirdparty_kd:MyKD", PLUGIN)
    assert "third_kd" in list_distillers()
    cls = get_distiller("third_kd")
    assert cls.__name__ == "MyKD" and cls.name == "third_kd"
    assert build_distiller("third_kd", DIMS, DIMS, {"weight": 3.0}).weight == 3.0


def test_entry_point_shadowing_an_in_tree_name_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_point(tmp_path, monkeypatch, "kd", "thirdparty_kd:MyKD", PLUGIN)
    with pytest.raises(UserError, match="'kd' is registered twice"):
        list_distillers()


def test_broken_entry_point_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_point(tmp_path, monkeypatch, "third_kd", "thirdparty_kd:Missing", PLUGIN)
    with pytest.raises(UserError, match="entry point 'third_kd'.*failed to import"):
        list_distillers()
