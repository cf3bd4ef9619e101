"""Suite files: schema, TOML loading and validation that reports every problem at once with a dotted path.

A suite names a dataset, a training recipe, its tracks (teacher, student family, parameter cap, search
space), the methods to compare, the seeds, and the search budget. Files live in `uniads_bench/suites/`;
a path to any other TOML file works too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from uniads_bench.errors import UserError

SUITE_PACKAGE = "uniads_bench.suites"


@dataclass(frozen=True)
class Recipe:
    """How a network is trained: SGD with momentum and a step schedule (milestones as fractions of epochs)."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[float, ...] = (0.625, 0.75, 0.875)
    gamma: float = 0.1
    augment_pad: int = 0
    augment_flip: bool = False


@dataclass(frozen=True)
class SearchSettings:
    """What a search method may spend and how candidates are scored during the search.

    Attributes:
        max_failure_share: a search aborts when more than this share of its last `failure_window`
            evaluations failed or ran out of memory (a broken plug-in should not burn the whole budget);
            rejected and diverged candidates are search outcomes, not failures.
    """

    budget_gpu_hours: float
    epochs: int
    max_evaluations: int = 10_000
    max_failure_share: float = 0.5
    failure_window: int = 8


@dataclass(frozen=True)
class SpaceSpec:
    """A track's search space: which distiller's genes are searched and their options, plus optimisation
    genes (``lr_mult`` multiplies the recipe's learning rate, ``weight_decay`` replaces it)."""

    distiller: str
    distill: dict[str, list[Any]] = field(default_factory=dict)
    optim: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportedResult:
    """A published number quoted beside a track's leaderboard (never mixed with measured rows)."""

    method: str
    top1: float
    source: str
    student: str = ""
    params: int = 0


@dataclass(frozen=True)
class Resources:
    """What one candidate's training takes on a cluster (the Ray executor asks for it per evaluation).

    Attributes:
        gpus: GPUs per candidate on a CUDA device; a fraction (0.25) lets that many small students share one.
        cpus: CPU cores per candidate (its torch thread count and, on a GPU, its host-side work).
    """

    gpus: float = 1.0
    cpus: int = 1


@dataclass(frozen=True)
class TableGrid:
    """The grid a tabular benchmark of a track trains (`uniads-bench table build`, `space.grid`).

    Attributes:
        genes: per gene of the track's space (joint genes by their joint name), the options the grid keeps;
            a gene not listed keeps every option.
        seeds: training seeds of every (point, fidelity).
        max_points: the most points to train; a larger grid is sampled, stratified per gene (0: no limit).
        epochs: the fidelities; empty: the rungs of the suite's default halving schedule.
    """

    genes: dict[str, list[Any]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0, 1, 2)
    max_points: int = 0
    epochs: tuple[int, ...] = ()


@dataclass(frozen=True)
class Track:
    """One teacher, one student family (with its reference student) and a parameter cap.

    Attributes:
        student_reference: genes of the track's reference student when it is not the family's default
            (res110 -> res32 uses the CIFAR ResNet family with resnet32's depths).
        student_lr: the recipe's learning rate for this track's students (0.01 for MobileNet/ShuffleNet).
        teacher_train: false when the teacher must be imported (ImageNet: torchvision weights), never trained.
        method_hparams: per-method hyperparameters of fixed methods on this pair (DKD's per-pair beta).
        reported: published results for this pair, shown apart as `reported` rows with their source.
        resources: GPUs and CPUs per candidate when evaluations run as cluster tasks.
        param_cap: the largest student a search may choose; ``"reference"`` (resolved when the suite loads)
            is the reference student's size, the equal-parameter comparison the protocol asks for.
        cap_note: why the cap differs from the reference student's size; required when it does, and shown
            on the board (a cap above the reference is no longer an equal-parameter comparison).
        table: the grid of the track's tabular benchmark, if it has one.
    """

    name: str
    teacher: str
    student_family: str
    param_cap: int | str  # "reference": the reference student's parameter count (an int once loaded)
    space: SpaceSpec
    student_reference: dict[str, Any] = field(default_factory=dict)
    student_lr: float | None = None
    teacher_train: bool = True
    method_hparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    reported: tuple[ReportedResult, ...] = ()
    resources: Resources = field(default_factory=Resources)
    cap_note: str = ""
    table: TableGrid | None = None


@dataclass(frozen=True)
class Suite:
    """A whole benchmark: dataset, protocol, tracks, methods, seeds and budget.

    `final_resolution` 0 trains every phase on the prepared arrays; a resolution (ImageNet: 224) trains the
    final phase on the raw ImageFolder tree at that size with `loader_workers` decode processes, while search
    rungs stay on the prepared low-resolution arrays.
    """

    name: str
    dataset: str
    description: str
    seeds: tuple[int, ...]
    val_count: int
    split_seed: int
    hardware_profile: str
    methods: tuple[str, ...]
    recipe: Recipe
    teacher_recipe: Recipe
    search: SearchSettings
    tracks: tuple[Track, ...]
    final_resolution: int = 0
    loader_workers: int = 8

    def track(self, name: str) -> Track:
        for track in self.tracks:
            if track.name == name:
                return track
        raise UserError(f"suite {self.name!r} has no track {name!r}; tracks: {', '.join(t.name for t in self.tracks)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the resolved suite; keys resume and leaderboard rows. Track resources
        and table grids are left out: how a cluster packs candidates, or which table a track has, never changes
        a run's result."""
        config = self.to_dict()
        for track in config["tracks"]:
            del track["resources"], track["table"]
        text = json.dumps(config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def known_suites() -> list[str]:
    """Names of the suites shipped with the package."""
    return sorted(p.name[: -len(".toml")] for p in resources.files(SUITE_PACKAGE).iterdir() if p.name.endswith(".toml"))


def load_suite(name_or_path: str, check: bool = True) -> Suite:
    """Load and validate a shipped suite by name, or any suite TOML file by path.

    `check` False reads the schema only, resolving no names (no distiller, family or model is imported, so no
    torch): for listings of the shipped suites, which the tests load with every check.

    Raises:
        UserError: unknown suite, malformed TOML, or any schema problem (all listed, with dotted paths).
    """
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") and path.is_file():
        text, origin = path.read_text(), str(path)
    elif name_or_path in known_suites():
        text = resources.files(SUITE_PACKAGE).joinpath(f"{name_or_path}.toml").read_text()
        origin = f"suite {name_or_path}"
    elif path.is_dir():
        raise UserError(f"{name_or_path} is a directory; expected a suite name ({', '.join(known_suites())}) or a "
                        "suite .toml file")
    else:
        raise UserError(f"unknown suite {name_or_path!r}; known suites: {', '.join(known_suites())}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{origin} is not valid TOML: {exc}") from exc
    return parse_suite(data, origin) if check else _schema_only(data, origin)


def _schema_only(data: dict[str, Any], origin: str) -> Suite:
    problems: list[str] = []
    suite = _build(Suite, data, "", problems)
    if problems or suite is None:
        raise UserError(f"{origin} has {len(problems)} problem(s):", problems)
    return suite


def parse_suite(data: dict[str, Any], origin: str = "suite") -> Suite:
    """Build a Suite from parsed TOML, collecting every problem before raising one UserError."""
    problems: list[str] = []
    suite = _build(Suite, data, "", problems)
    if suite is not None:
        _check_semantics(suite, problems)
        _check_finite(dataclasses.asdict(suite), "", problems)
    if suite is not None and not problems:
        suite = _resolve_caps(suite, problems)
    if problems:
        raise UserError(f"{origin} has {len(problems)} problem(s):", problems)
    assert suite is not None
    return suite


def _check_semantics(suite: Suite, problems: list[str]) -> None:
    from uniads_bench.methods import get_method

    if not suite.seeds:
        problems.append("seeds: at least one seed is required")
    if len(set(suite.seeds)) != len(suite.seeds):
        problems.append(f"seeds: duplicate seeds in {list(suite.seeds)}")
    if suite.search.budget_gpu_hours < 0:
        problems.append(f"search.budget_gpu_hours: must be >= 0, got {suite.search.budget_gpu_hours}")
    for section, recipe in (("recipe", suite.recipe), ("teacher_recipe", suite.teacher_recipe)):
        for key in ("epochs", "batch_size"):
            if getattr(recipe, key) <= 0:
                problems.append(f"{section}.{key}: must be > 0, got {getattr(recipe, key)}")
        if recipe.lr <= 0:
            problems.append(f"{section}.lr: must be > 0, got {recipe.lr}")
    if suite.search.epochs <= 0:
        problems.append(f"search.epochs: must be > 0, got {suite.search.epochs}")
    if suite.search.max_evaluations <= 0:
        problems.append(f"search.max_evaluations: must be > 0, got {suite.search.max_evaluations}")
    if not 0.0 <= suite.search.max_failure_share <= 1.0:
        problems.append(f"search.max_failure_share: must be in [0, 1], got {suite.search.max_failure_share}")
    if suite.search.failure_window <= 0:
        problems.append(f"search.failure_window: must be > 0, got {suite.search.failure_window}")
    if suite.final_resolution not in (0, 224):
        problems.append(f"final_resolution: 0 (prepared arrays) or 224 (ImageFolder), got {suite.final_resolution}")
    if suite.val_count <= 0:
        problems.append(f"val_count: must be > 0, got {suite.val_count}")
    problems += split_problems(suite, None)
    for i, method in enumerate(suite.methods):
        try:
            get_method(method)
        except UserError as exc:
            problems.append(f"methods[{i}]: {exc}")
    if len(set(suite.methods)) != len(suite.methods):
        problems.append(f"methods: duplicate methods in {list(suite.methods)}")
    names = [t.name for t in suite.tracks]
    if len(set(names)) != len(names):
        problems.append(f"tracks: duplicate track names in {names}")
    if not suite.tracks:
        problems.append("tracks: at least one track is required")
    for i, track in enumerate(suite.tracks):
        _check_track(track, f"tracks[{i}]", problems, suite)


def split_problems(suite: Suite, data_limit: int | None) -> list[str]:
    """Sizes that cannot work on the suite's dataset (with `data_limit`, on its first N train images): a
    validation split as large as the train split, or a batch larger than the split it is drawn from (a run
    would train one full-batch step per epoch and publish a chance-level row)."""
    from uniads_bench.data.catalog import DATASETS

    spec = DATASETS.get(suite.dataset)
    if spec is None or not spec.train_images:
        return []  # an unknown dataset is reported by the data loader with the known names
    train = min(spec.train_images, data_limit or spec.train_images)
    where = f"{suite.dataset}'s {train:,} train images" + (" (--data-limit)" if data_limit else "")
    if suite.val_count >= train:
        return [f"val_count: {suite.val_count:,} leaves no training images out of {where}"]
    problems = []
    for section, recipe, split in (("recipe", suite.recipe, train - suite.val_count),
                                   ("teacher_recipe", suite.teacher_recipe, train)):
        if recipe.batch_size > split:
            problems.append(f"{section}.batch_size: {recipe.batch_size:,} is larger than the {split:,} images it is "
                            f"drawn from ({where})")
    return problems


def _fixed_method(name: str) -> Any:
    from uniads_bench.methods import FixedMethod, get_method

    try:
        method = get_method(name)
    except UserError:
        return None  # reported under methods[]
    return method if isinstance(method, FixedMethod) else None


def _resolve_caps(suite: Suite, problems: list[str]) -> Suite:
    """Replace ``param_cap = "reference"`` by the reference student's parameter count, and require a
    `cap_note` where a cap differs from it (the protocol compares students of equal size)."""
    tracks = []
    for i, track in enumerate(suite.tracks):
        reference = reference_params(track, suite.dataset)
        cap = reference if track.param_cap == "reference" else track.param_cap
        if cap != reference and not track.cap_note:
            problems.append(
                f'tracks[{i}].param_cap: {cap:,} differs from the reference student\'s {reference:,} parameters; '
                'use param_cap = "reference" for an equal-parameter comparison, or say why in cap_note')
        tracks.append(dataclasses.replace(track, param_cap=cap))
    return dataclasses.replace(suite, tracks=tuple(tracks))


def reference_params(track: Track, dataset: str) -> int:
    """Parameters of `track`'s reference student for `dataset`'s classes, counted without allocating."""
    import torch

    from uniads_bench.data.catalog import dataset_spec
    from uniads_bench.models.counting import count_params
    from uniads_bench.models.family import track_family

    family = track_family(track)
    with torch.device("meta"):
        return count_params(family.build(family.reference, dataset_spec(dataset).num_classes))


def _check_finite(value: Any, path: str, problems: list[str]) -> None:
    """NaN and infinity are valid TOML floats but no valid setting anywhere in a suite."""
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{path}: must be a finite number, got {value}")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else ()
    for key, item in items:
        _check_finite(item, f"{path}[{key}]" if isinstance(key, int) else _join(path, str(key)), problems)


def _check_track(track: Track, path: str, problems: list[str], suite: Suite) -> None:
    from uniads_bench.distill import get_distiller, hparam_problems
    from uniads_bench.models.digits import TEACHERS
    from uniads_bench.models.family import get_family, track_family
    from uniads_bench.models.zoo import get_entry

    if isinstance(track.param_cap, str) and track.param_cap != "reference":
        problems.append(f'{path}.param_cap: a parameter count or "reference", got {track.param_cap!r}')
    elif isinstance(track.param_cap, int) and track.param_cap <= 0:
        problems.append(f"{path}.param_cap: must be > 0, got {track.param_cap}")
    if track.teacher not in TEACHERS:
        try:
            get_entry(track.teacher)
        except UserError as exc:
            problems.append(f"{path}.teacher: {exc}")
    for method, hparams in track.method_hparams.items():
        if method not in suite.methods:
            problems.append(f"{path}.method_hparams.{method}: not a method of this suite ({', '.join(suite.methods)})")
            continue
        fixed = _fixed_method(method)
        if fixed is None:
            problems.append(f"{path}.method_hparams.{method}: only fixed methods take hyperparameters here")
            continue
        try:
            problems += [f"{path}.method_hparams.{method}.{p}" for p in
                         hparam_problems(fixed.distiller, {**fixed.hparams, **hparams})]
        except UserError as exc:
            problems.append(f"{path}.method_hparams.{method}: {exc}")
    gpus = track.resources.gpus
    if not (0 < gpus <= 1 or float(gpus).is_integer()):
        problems.append(f"{path}.resources.gpus: a fraction in (0, 1] or a whole number of GPUs, got {gpus}")
    if track.resources.cpus < 1:
        problems.append(f"{path}.resources.cpus: must be >= 1, got {track.resources.cpus}")
    try:
        get_family(track.student_family)
    except UserError as exc:
        problems.append(f"{path}.student_family: {exc}")
    else:
        try:
            track_family(track)
        except UserError as exc:
            problems.append(f"{path}.student_reference: {exc}")
    try:
        get_distiller(track.space.distiller)
    except UserError as exc:
        problems.append(f"{path}.space.distiller: {exc}")
    else:
        for gene, options in track.space.distill.items():
            if isinstance(options, list):
                for option in options:  # a joint gene "transform/distance" takes options "tanh/l2"
                    fields = dict(zip(gene.split("/"), str(option).split("/"), strict=False)) if "/" in gene else {
                        gene: option}
                    found = hparam_problems(track.space.distiller, fields)
                    where = f"{path}.space.distill." + (f"{gene}: " if "/" in gene else "")
                    problems += [where + p for p in found]
                    if found:
                        break
    for group in ("distill", "optim"):
        for gene, options in getattr(track.space, group).items():
            if not isinstance(options, list) or not options:
                problems.append(f"{path}.space.{group}.{gene}: must be a non-empty list of options")
    unknown_optim = set(track.space.optim) - {"lr_mult", "weight_decay"}
    if unknown_optim:
        problems.append(f"{path}.space.optim: unknown genes {sorted(unknown_optim)}; allowed: lr_mult, weight_decay")
    if track.table is not None and not any(p.startswith(f"{path}.") for p in problems):
        _check_table(track, f"{path}.table", problems)


def _check_table(track: Track, path: str, problems: list[str]) -> None:
    from uniads_bench.space import track_space
    from uniads_bench.space.grid import grid_problems

    table = track.table
    assert table is not None
    problems += [f"{path}.genes.{p}" for p in grid_problems(track_space(track), table.genes)]
    if not table.seeds or len(set(table.seeds)) != len(table.seeds):
        problems.append(f"{path}.seeds: at least one seed, no duplicates; got {list(table.seeds)}")
    if table.max_points < 0:
        problems.append(f"{path}.max_points: must be >= 0 (0: the whole grid), got {table.max_points}")
    if any(e <= 0 for e in table.epochs) or list(table.epochs) != sorted(set(table.epochs)):
        problems.append(f"{path}.epochs: increasing positive epochs, got {list(table.epochs)}")


def _build(cls: type, data: Any, path: str, problems: list[str]) -> Any:
    """Recursively turn TOML data into the dataclass `cls`, appending problems instead of raising."""
    if not isinstance(data, dict):
        problems.append(f"{path or '<root>'}: expected a table, got {type(data).__name__}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            problems.append(f"{_join(path, key)}: unknown key; allowed: {', '.join(fields)}")
    values: dict[str, Any] = {}
    ok = True
    for name, spec in fields.items():
        here = _join(path, name)
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                problems.append(f"{here}: required key is missing")
                ok = False
            continue
        value = _convert(hints[name], data[name], here, problems)
        if value is _INVALID:
            ok = False
        else:
            values[name] = value
    return cls(**values) if ok else None


_INVALID = object()


def _convert(hint: Any, value: Any, path: str, problems: list[str]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        built = _build(hint, value, path, problems)
        return _INVALID if built is None else built
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        matching = next((a for a in members if isinstance(a, type) and type(value) is a), members[0])
        return _convert(matching, value, path, problems)
    if origin is tuple:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__} {value!r}")
            return _INVALID
        items = [_convert(args[0], v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
        return _INVALID if any(v is _INVALID for v in items) else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a table, got {type(value).__name__}")
            return _INVALID
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        problems.append(f"{path}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return _INVALID
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
