"""Student families: each reference is exactly its zoo model, named zoo models are points of the families,
every option builds, and invalid assignments fail with every problem listed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from uniads_bench.errors import UserError
from uniads_bench.models.counting import count_params
from uniads_bench.models.families import CONFIGS, FamilyConfig
from uniads_bench.models.family import get_family, known_families
from uniads_bench.models.zoo import build_model, get_entry


def _classes(config: FamilyConfig) -> int:
    return 1000 if get_entry(config.reference_model).dataset == "imagenet" else 100


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@contextmanager
def _meta() -> Iterator[None]:
    """Build without allocating or initialising weights: enough for shapes and counts, and fast."""
    with torch.device("meta"):
        yield


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_reference_is_exactly_the_zoo_model(name: str) -> None:
    config = CONFIGS[name]
    classes = _classes(config)
    with _meta():
        student = config.build(config.reference_genes, classes)
        reference = build_model(config.reference_model, classes)
    assert count_params(student) == count_params(reference)
    assert _shapes(student) == _shapes(reference)
    assert student.tap_dims() == reference.tap_dims()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_registered_for_the_search_space(name: str) -> None:
    assert name in known_families()
    family = get_family(name)
    config = CONFIGS[name]
    assert family.genes == config.genes and dict(family.reference) == config.reference_genes
    with _meta():
        via_registry = family.build(family.reference, 10)
        direct = config.build(config.reference_genes, 10)
    assert count_params(via_registry) == count_params(direct)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_genes_are_well_formed(name: str) -> None:
    config = CONFIGS[name]
    names = [g.name for g in config.genes]
    assert len(names) == len(set(names)) and set(names) == set(config.reference_genes)
    for gene in config.genes:
        assert list(gene.options) == sorted(set(gene.options)), gene
        assert config.reference_genes[gene.name] in gene.options


@pytest.mark.parametrize("name", known_families())
def test_every_registered_family_keeps_the_contract(name: str) -> None:
    """Over everything the registry holds (in-tree and installed): ordered options, a reference that is a
    point of the genes, and a model with the taps every distiller reads."""
    family = get_family(name)
    assert set(family.reference) == {g.name for g in family.genes}
    for gene in family.genes:
        assert len(set(gene.options)) == len(gene.options) and family.reference[gene.name] in gene.options, gene
    with _meta():
        model = family.build(family.reference, 10)
    assert callable(getattr(model, "forward_taps", None)) and model.tap_dims().num_classes == 10


def test_a_family_whose_reference_is_not_a_point_is_refused() -> None:
    from uniads_bench.models.family import FamilyGene, StudentFamily, _check_family

    bad = StudentFamily("bad", (FamilyGene("width", (4, 8)),), {"width": 6}, lambda genes, n: None)
    with pytest.raises(UserError, match=r"reference student is not a point of its genes \(\['width=6'\]"):
        _check_family(bad, "bad")


@pytest.mark.parametrize(
    ("family", "genes", "zoo_name"),
    [
        ("cifar_resnet", {"depth1": 1, "depth2": 1, "depth3": 1}, "resnet8"),
        ("cifar_resnet", {"depth1": 5, "depth2": 5, "depth3": 5}, "resnet32"),
        ("cifar_resnet", {"depth1": 7, "depth2": 7, "depth3": 7}, "resnet44"),
        ("wrn", {"depth": 40, "widen": 1}, "wrn_40_1"),
        ("wrn", {"depth": 16, "widen": 1}, "wrn_16_1"),
        ("wrn", {"depth": 40, "widen": 2}, "wrn_40_2"),
        ("vgg", {f"convs{i}": 2 for i in range(1, 6)}, "vgg13"),
    ],
)
def test_other_zoo_models_are_points_of_the_family(family: str, genes: dict[str, int], zoo_name: str) -> None:
    config = CONFIGS[family]
    with _meta():
        assert _shapes(config.build(config.reference_genes | genes, 100)) == _shapes(build_model(zoo_name, 100))


def test_diswot_s1_point_has_the_published_size() -> None:
    config = CONFIGS["cifar_resnet"]
    with _meta():
        model = config.build(config.reference_genes | {"depth1": 5, "depth2": 5, "depth3": 7}, 100)
    assert count_params(model) / 1e6 == pytest.approx(0.621, abs=0.0005)  # DisWOT S1 (5,5,7), lliai/DisWOT-CVPR2023


def _extreme(config: FamilyConfig, pick: int) -> dict[str, int | float]:
    return {g.name: g.options[pick] for g in config.genes}


# Every family at its smallest and largest options; the largest ImageNet ResNet (about 40 M parameters) is slow.
EXTREMES = [
    pytest.param(
        name, pick, id=f"{name}-{label}", marks=[pytest.mark.slow] if name == "imagenet_resnet" and pick else []
    )
    for name in sorted(CONFIGS)
    for pick, label in ((0, "smallest"), (-1, "largest"))
]


@pytest.mark.parametrize(("name", "pick"), EXTREMES)
def test_extreme_options_build_and_run(name: str, pick: int) -> None:
    config = CONFIGS[name]
    model = config.build(_extreme(config, pick), 3).eval()
    side = 64 if _classes(config) == 1000 else 32
    with torch.no_grad():
        taps = model.forward_taps(torch.zeros(2, 3, side, side), stages=True)
    assert taps.logits.shape == (2, 3)
    assert tuple(s.shape[1] for s in taps.stages) == model.tap_dims().stage_channels


def test_invalid_assignment_lists_every_problem() -> None:
    config = CONFIGS["cifar_resnet"]
    genes = config.reference_genes | {"depth1": 2, "width3": True, "detph2": 3}
    del genes["width1"]
    with pytest.raises(UserError) as err:
        config.build(genes, 100)
    problems = "\n".join(err.value.problems)
    assert "'width1'" in problems and "'depth1' = 2" in problems and "'width3' = True" in problems
    assert "did you mean 'depth2'" in problems
    assert len(err.value.problems) == 4


def test_values_are_normalised_to_their_option() -> None:
    config = CONFIGS["cifar_resnet"]
    genes = {k: float(v) for k, v in config.reference_genes.items()}
    assert config.validate(genes) == config.reference_genes
    assert all(isinstance(v, int) for v in config.validate(genes).values())


def test_configs_are_frozen_and_replaceable() -> None:
    config = CONFIGS["wrn"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.reference_depth = 40  # type: ignore[misc]
    variant = dataclasses.replace(config, reference_depth=40, reference_widen=1, reference_model="wrn_40_1")
    with _meta():
        assert count_params(variant.build(variant.reference_genes, 100)) == count_params(build_model("wrn_40_1"))
