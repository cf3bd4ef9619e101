"""The `uniads-bench` command line. Every suite name is also a command: `uniads-bench digits` == `run digits`.

User errors print one clear message and exit with code 2 before any work (3: a search aborted by its failure
budget); SIGINT/SIGTERM exit with 130/143 and say how to resume; bugs keep their traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tabulate import tabulate

from uniads_bench import __version__
from uniads_bench.config import known_suites, load_suite
from uniads_bench.errors import UserError


def _csv(kind: type):
    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple:
        if not value:
            return ()
        try:
            return tuple(kind(v.strip()) for v in value.split(",") if v.strip())
        except ValueError as exc:
            raise click.BadParameter(f"expected a comma-separated list of {kind.__name__}: {value!r}") from exc

    return parse


# How a run trains: shared by `run SUITE` (and every suite-named command) and `table build`.
TRAINING_OPTIONS = [
    click.option("--budget-scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
                 help="Scale every budget and epoch count (smoke runs)."),
    click.option("--data-limit", type=click.IntRange(min=1), default=None,
                 help="Use only the first N train (N // 5 test) images: smoke runs, marked in every row."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
                 show_default=True, envvar="UNIADS_DATA_DIR", help="Where datasets (raw and prepared) live."),
    click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Teacher cache (default: $UNIADS_CACHE or ~/.cache/uniads-bench)."),
    click.option("--deterministic", is_flag=True, help="Deterministic algorithms: same seed, same machine, "
                 "same results."),
    click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Worker processes per device (local executor); 1 trains in the run's own process."),
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="Where evaluations run: local processes, or Ray tasks (pip install 'uniads-bench[ray]')."),
    click.option("--ray-address", default=None, metavar="auto|HOST:PORT",
                 help="Ray cluster to join (--executor ray); default: start a local Ray instance."),
    click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True,
                 help="Candidates' precision: auto = bf16 autocast for search rungs on CUDA, fp32 for final "
                 "phases (leaderboard rows) and on a CPU; bf16 = every candidate, also on a CPU (fast with "
                 "AVX512-BF16/AMX); fp32 = none. Teachers train in fp32. Recorded in the run and its rows."),
]


def _apply(options: list, func):
    for option in reversed(options):
        func = option(func)
    return func


def training_options(func):
    """The options of how a command trains (`table build`)."""
    return _apply(TRAINING_OPTIONS, func)


def run_options(func):
    """The options of `run SUITE`, shared by every suite-named command."""
    return _apply([
        click.option("--tracks", callback=_csv(str), help="Comma-separated track names (default: all)."),
        click.option("--methods", callback=_csv(str), help="Comma-separated method names (default: the suite's)."),
        click.option("--seeds", callback=_csv(int), help="Comma-separated seeds (default: the suite's)."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
                     show_default=True, envvar="UNIADS_OUT", help="Parent directory of run directories."),
        click.option("--resume", type=click.Path(path_type=Path), default=None,
                     help="Continue the interrupted run in this run directory."),
        click.option("--leaderboard-dir", type=click.Path(file_okay=False, path_type=Path),
                     default=Path("leaderboards"), show_default=True, envvar="UNIADS_LEADERBOARD_DIR"),
        *TRAINING_OPTIONS,
        click.option("--compile", is_flag=True, help="torch.compile students in final-phase trainings (pays off "
                     "on long GPU runs; tens of seconds of compile time per training)."),
        click.option("--verbose", is_flag=True, help="Print every evaluation's line (always kept in the run "
                     "directory's run.log) besides the live status of each job."),
    ], func)


def _progress(verbose: bool):
    """The live status of a run's jobs on stderr (redrawn in place on a terminal, periodic lines elsewhere)."""
    from uniads_bench.runner.progress import Progress

    return Progress(sys.stderr, verbose=verbose)


def _options(**kwargs):
    """RunOptions from command-line keywords (a missing --cache-dir keeps the default)."""
    from uniads_bench.runner.options import RunOptions

    cache_dir = kwargs.pop("cache_dir")
    return RunOptions(**kwargs) if cache_dir is None else RunOptions(cache_dir=cache_dir, **kwargs)


def _run(suite: str, verbose: bool, **kwargs) -> None:
    from uniads_bench.runner.run import failed_rows_error, run_suite

    progress = _progress(verbose)
    result = run_suite(suite, _options(**kwargs), log=lambda line: click.echo(line, err=True), progress=progress)
    progress.close()
    click.echo(result.table)
    click.echo(f"\nrun directory: {result.run_dir}\nleaderboard: {result.board_path}")
    failed = failed_rows_error(result)
    if failed is not None:
        raise failed


class SuiteGroup(click.Group):
    """A group whose unknown commands are tried as suite names (`uniads-bench digits`)."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None or name not in known_suites():
            return command

        @click.command(name=name, help=f"Run the {name} suite (same as `run {name}`).")
        @run_options
        def suite_command(**kwargs) -> None:
            _run(name, **kwargs)

        return suite_command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return super().list_commands(ctx) + [s for s in known_suites() if s not in self.commands]

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            raise UserError(f"unknown command or suite {name!r}; suites: {', '.join(known_suites())}; "
                            f"commands: {', '.join(sorted(self.commands))}")
        return super().resolve_command(ctx, args)


@click.group(cls=SuiteGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="uniads-bench")
def cli() -> None:
    """uniads-bench: distillation-aware search (UniADS) against KD baselines under equal budgets."""


@cli.command()
def suites() -> None:
    """List the suites, their tracks and methods."""
    rows = []
    for name in known_suites():
        suite = load_suite(name, check=False)  # a listing: no torch (tests load the shipped suites fully)
        for track in suite.tracks:
            rows.append([name, suite.dataset, track.name, track.teacher, track.student_family,
                         ", ".join(suite.methods), len(suite.seeds),
                         f"{suite.search.budget_gpu_hours:g} h of {suite.hardware_profile}"])
    click.echo(tabulate(rows, headers=["suite", "dataset", "track", "teacher", "student family", "methods",
                                       "seeds", "search budget"], tablefmt="github"))


@cli.command()
def plugins() -> None:
    """What every extension point holds and where each entry comes from (in-tree, entry point, plug-in)."""
    from importlib.metadata import entry_points

    from uniads_bench.distill import get_distiller, list_distillers
    from uniads_bench.methods import ENTRY_POINT_GROUP, get_method, method_names
    from uniads_bench.models.digits import TEACHERS
    from uniads_bench.models.family import family_origins
    from uniads_bench.models.zoo import ZOO
    from uniads_bench.search.base import SEARCHERS

    for name in method_names():
        get_method(name)  # a method's module may register the searcher it names
    rows = [["distiller", name, f"module {get_distiller(name).__module__}"] for name in list_distillers()]
    rows += [["searcher", name, origin] for name, origin in SEARCHERS.origins().items()]
    rows += [["method", ep.name, f"entry point {ep.value}"]
             for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)]
    rows += [["student family", name, origin] for name, origin in family_origins().items()]
    rows += [["model", name, f"zoo ({entry.dataset})"] for name, entry in ZOO.items()]
    rows += [["teacher", name, "module uniads_bench.models.digits"] for name in TEACHERS]
    click.echo(tabulate(rows, headers=["extension point", "name", "from"], tablefmt="github"))


@cli.command()
@click.argument("suite")
@run_options
def run(suite: str, **kwargs) -> None:
    """Run SUITE: every track, method and seed, search phase then final phase."""
    _run(suite, **kwargs)


def _cache_dir(value: Path | None) -> Path:
    from uniads_bench.runner.options import RunOptions

    return (value or RunOptions().cache_dir).expanduser()


data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
                               show_default=True, envvar="UNIADS_DATA_DIR", help="Where datasets live.")
cache_dir_option = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                                help="Teacher cache (default: $UNIADS_CACHE or ~/.cache/uniads-bench).")
device_option = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                             show_default=True)


@cli.command()
@data_dir_option
@cache_dir_option
def doctor(data_dir: Path, cache_dir: Path | None) -> None:
    """Environment, devices, suites and caches: what is ready and what is missing, with the command for each."""
    import platform

    import torch

    from uniads_bench.engine.calibrate import cpu_model
    from uniads_bench.runner.readiness import suite_readiness

    rows = [
        ["uniads-bench", __version__],
        ["python", platform.python_version()],
        ["torch", f"{torch.__version__} (CUDA build {torch.version.cuda or 'none'})"],
        ["CUDA available", str(torch.cuda.is_available())],
        ["CPU", cpu_model()],
    ]
    if torch.cuda.is_available():
        rows += [[f"GPU {i}", torch.cuda.get_device_name(i)] for i in range(torch.cuda.device_count())]
    # Versions from the installed distributions' metadata: importing nevergrad, datasets and Ray only to read
    # their versions took most of doctor's start-up.
    for package in ("torchvision", "nevergrad", "pymoo", "datasets", "scikit-learn", "tabulate", "click"):
        rows.append([package, _installed_version(package) or "MISSING"])
    rows.append(["ray (--executor ray)", _installed_version("ray")
                 or "not installed (optional: pip install 'uniads-bench[ray]')"])
    click.echo(tabulate(rows, tablefmt="github", headers=["check", "status"]))
    pieces = [p for name in known_suites() for p in suite_readiness(load_suite(name), data_dir, _cache_dir(cache_dir))]
    click.echo("\n" + tabulate([[p.suite, p.piece, p.status, p.fix or "ready"] for p in pieces], tablefmt="github",
                                headers=["suite", "needs", "found", "to fix"]))
    missing = sum(not p.ready for p in pieces)
    click.echo(f"\n{len(pieces) - missing} of {len(pieces)} pieces ready" + (
        "; the command beside each missing one makes it (a run also trains a missing teacher itself)"
        if missing else ""))


def _installed_version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


@cli.command()
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100", "imagenet"]), default=None,
              help="Only the models for this dataset (class count follows it).")
def models(dataset: str | None) -> None:
    """The model zoo: name, parameters and multiply-accumulates at the model's input size."""
    from uniads_bench.models.zoo import zoo_table

    rows = [[r["name"], r["dataset"], r["num_classes"], "x".join(map(str, r["input_size"])),
             f"{r['params'] / 1e6:.3f}M", f"{r['macs'] / 1e6:.1f}M"] for r in zoo_table(dataset)]
    click.echo(tabulate(rows, headers=["model", "dataset", "classes", "input", "params", "MACs"],
                        tablefmt="github"))


@cli.command()
@click.argument("suite")
@click.argument("track")
def space(suite: str, track: str) -> None:
    """The joint search space of SUITE's TRACK: architecture, distiller and optimisation genes."""
    from uniads_bench.models.family import track_family
    from uniads_bench.space import track_space

    loaded = load_suite(suite).track(track)
    joint = track_space(loaded)
    family = track_family(loaded)
    click.echo(f"suite {suite}, track {track}: student family {family.name} (reference "
               f"{dict(family.reference)}), distiller {joint.distiller!r}, parameter cap {loaded.param_cap:,}")
    click.echo(tabulate([list(r.values()) for r in joint.describe()], headers=["gene", "group", "options"],
                        tablefmt="github", maxcolwidths=[None, None, 100]))
    click.echo(f"{joint.size():,} distinct candidates (settings that differ only in a gene the distiller ignores, "
               "such as tau on an untempered uniads transform/distance pair, count once)")


@cli.group()
def data() -> None:
    """Prepare datasets once as uint8 arrays with a sha256 manifest, and verify them."""


def _dataset_of(suite_or_dataset: str) -> str:
    return load_suite(suite_or_dataset).dataset if suite_or_dataset in known_suites() else suite_or_dataset


@data.command("prepare")
@click.argument("suite")
@data_dir_option
@click.option("--source", default=None, help="LAYOUT or LAYOUT:PATH (torchvision, parquet, hf-disk, "
              "imagefolder, hub); default: detect under --data-dir.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N rows per split "
              "(smoke runs; such data is refused by benchmark runs).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Decode processes; 1 decodes in this process (as `run --workers 1` trains in it).")
def data_prepare(suite: str, data_dir: Path, source: str | None, limit: int | None, workers: int) -> None:
    """Convert SUITE's dataset (or a dataset name) to prepared arrays under DATA_DIR/prepared/."""
    from uniads_bench.data.prepared import prepare_dataset

    name = _dataset_of(suite)
    if name == "digits":
        click.echo("digits ships with scikit-learn; nothing to prepare")
        return
    manifest = prepare_dataset(name, data_dir, source, limit=limit, workers=workers)
    click.echo(f"prepared {name}: {manifest.train_count} train, {manifest.test_count} test images "
               f"from {manifest.layout} {manifest.source}")


@data.command("verify")
@click.argument("suite")
@data_dir_option
def data_verify(suite: str, data_dir: Path) -> None:
    """Re-hash SUITE's prepared files against their manifest."""
    from uniads_bench.data.prepared import verify_prepared

    name = _dataset_of(suite)
    if name == "digits":
        click.echo("digits ships with scikit-learn; nothing to verify")
        return
    manifest = verify_prepared(name, data_dir)
    click.echo(f"{name}: {len(manifest.files)} files match their sha256 ({manifest.train_count} train, "
               f"{manifest.test_count} test)")


@cli.group()
def teacher() -> None:
    """Train, import and verify the teacher of a track (cached with sha256 and test accuracy)."""


def _track_data(suite_name: str, track_name: str, data_dir: Path, device: str):
    from uniads_bench.runner.context import device_splits, load_arrays
    from uniads_bench.runner.options import pick_device

    suite = load_suite(suite_name)
    track = suite.track(track_name)
    arrays = load_arrays(suite, data_dir)
    return suite, track, arrays, device_splits(suite, arrays, pick_device(device), data_dir)


@teacher.command("train")
@click.argument("suite")
@click.argument("track")
@data_dir_option
@cache_dir_option
@device_option
def teacher_train(suite: str, track: str, data_dir: Path, cache_dir: Path | None, device: str) -> None:
    """Train TRACK's teacher with SUITE's teacher recipe (or load it when already cached)."""
    from uniads_bench.teachers import ensure_teacher

    loaded, trk, arrays, splits = _track_data(suite, track, data_dir, device)
    _, record = ensure_teacher(loaded, trk, splits.final_train, splits.test, arrays.num_classes,
                               _cache_dir(cache_dir), log=lambda line: click.echo(line, err=True))
    click.echo(f"{suite}/{track}: {record.model} test top-1 {record.test_top1:.2f}% sha256 {record.sha256}")


@teacher.command("import")
@click.argument("suite")
@click.argument("track")
@click.argument("path", type=click.Path(path_type=Path))
@data_dir_option
@cache_dir_option
@device_option
def teacher_import(suite: str, track: str, path: Path, data_dir: Path, cache_dir: Path | None, device: str) -> None:
    """Import PATH (mdistiller/RepDistiller checkpoint or plain state_dict) as TRACK's teacher."""
    from uniads_bench.teachers import import_teacher

    loaded, trk, arrays, splits = _track_data(suite, track, data_dir, device)
    record = import_teacher(loaded, trk, path, splits.test, arrays.num_classes, _cache_dir(cache_dir))
    click.echo(f"{suite}/{track}: imported {record.model}, test top-1 {record.test_top1:.2f}%, "
               f"sha256 {record.sha256}")


@teacher.command("verify")
@click.argument("suite")
@click.argument("track")
@data_dir_option
@cache_dir_option
@device_option
def teacher_verify(suite: str, track: str, data_dir: Path, cache_dir: Path | None, device: str) -> None:
    """Check the cached teacher's sha256 and re-measure its test accuracy against the record."""
    from uniads_bench.teachers import verify_teacher

    loaded, trk, arrays, splits = _track_data(suite, track, data_dir, device)
    record, top1 = verify_teacher(loaded, trk, len(splits.final_train), splits.test, arrays.num_classes,
                                  _cache_dir(cache_dir))
    click.echo(f"{suite}/{track}: sha256 ok, test top-1 {top1:.2f}% (recorded {record.test_top1:.2f}%)")


@cli.command()
@click.argument("suite")
@click.option("--distiller", "spec", required=True, help="A registered name or path/to/file.py:ClassName.")
@click.option("--hparams", default="{}", help="The distiller's hyperparameters as a JSON object.")
@click.option("--with-baselines", is_flag=True,
              help="Also train the suite's fixed baselines (vanilla, KD, ...) under the same conditions and seeds, "
              "so there is something to compare with (a fresh board, a reduced budget or data limit).")
@run_options
def compare(suite: str, spec: str, hparams: str, with_baselines: bool, verbose: bool, **kwargs) -> None:
    """Train a distiller under SUITE's locked recipe, reference students and seeds; rank it against the board.

    Its rows join the leaderboard as method `user:NAME`; the table shows its delta against every measured
    method of the same track (same hardware, budget scale, data limit and precision) with Welch's t-test over
    seeds. With --with-baselines the suite's fixed baselines are trained beside it in the same call.
    """
    import json

    from uniads_bench.distill import get_distiller, hparam_problems
    from uniads_bench.leaderboard import load_board
    from uniads_bench.leaderboard.compare import DELTA_HEADERS, USER_PREFIX, compare_rows, delta_cells
    from uniads_bench.methods import FixedMethod
    from uniads_bench.runner.run import failed_rows_error, run_suite

    try:
        params = json.loads(hparams)
    except json.JSONDecodeError as exc:
        raise UserError(f"--hparams is not valid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise UserError("--hparams must be a JSON object, e.g. '{\"temperature\": 4}'")
    if kwargs.pop("methods"):
        raise UserError("compare trains only the given distiller; --methods does not apply")
    cls = get_distiller(spec)
    problems = hparam_problems(spec, params)
    if problems:
        raise UserError(f"--hparams does not fit distiller {spec!r}:", problems)
    method = FixedMethod(name=f"{USER_PREFIX}{cls.name or spec}", distiller=spec, hparams=params,
                         description=f"user distiller {spec}")
    baselines = _fixed_methods(suite)
    options = _options(**kwargs, methods=baselines if with_baselines else ())
    progress = _progress(verbose)
    result = run_suite(suite, options, log=lambda line: click.echo(line, err=True), extra=method, progress=progress)
    progress.close()
    board = load_board(result.board_path.with_suffix(".json"))
    for row in result.rows:
        deltas = compare_rows(row, board)
        click.echo(f"\n{row.suite} / {row.track}: {row.method} top-1 {row.top1_mean:.2f} ± {row.top1_std:.2f} "
                   f"(n={row.n})")
        table = [delta_cells(d) for d in deltas]
        click.echo(tabulate(table, headers=DELTA_HEADERS, tablefmt="github")
                   if table else _nothing_to_compare(row, options, baselines))
    failed = failed_rows_error(result)
    if failed is not None:
        raise failed


def _fixed_methods(suite: str) -> tuple[str, ...]:
    """The suite's fixed baselines (vanilla, KD, DKD, ...), in its order."""
    from uniads_bench.methods import FixedMethod, get_method

    return tuple(m for m in load_suite(suite).methods if isinstance(get_method(m), FixedMethod))


def _nothing_to_compare(row, options, baselines: tuple[str, ...]) -> str:
    """What to run when the board has no row measured under `row`'s conditions: the exact command."""
    from uniads_bench.leaderboard.render import describe_conditions

    flags = [f"--tracks {row.track}", f"--methods {','.join(baselines)}",
             f"--seeds {','.join(map(str, row.seeds))}"]
    flags += [f"--budget-scale {options.budget_scale:g}"] if options.budget_scale != 1.0 else []
    flags += [f"--data-limit {options.data_limit}"] if options.data_limit else []
    flags += [f"--precision {options.precision}"] if options.precision != "auto" else []
    flags += [f"--leaderboard-dir {options.leaderboard_dir}"] if options.leaderboard_dir != Path("leaderboards") else []
    return (f"no measured rows {describe_conditions(row.conditions())} to compare with. Measure the baselines "
            f"under the same conditions:\n  uniads-bench run {row.suite} {' '.join(flags)}\nor add --with-baselines "
            "to this compare command to train them in the same call.")


@cli.command()
@click.argument("suite")
@click.argument("track")
@click.option("--method", required=True, help="A search method: uniads, an ablation of it (uniads:no-halving, "
              "uniads:no-shrinking, uniads:no-rejection, uniads:no-known), random, random+halving, nevergrad:NAME.")
@click.option("--evaluator", default="real", show_default=True,
              help="real (train on the suite's data), table:DIR[?seed=N] (a tabular benchmark), "
              "replay:TABLE.csv[?opts] or synthetic:NAME.")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Offline evaluators: for a table, GPU-hours (default: the table's reference search budget); "
              "otherwise full-fidelity trainings of a model at the parameter cap (default: 20).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-evaluations", type=click.IntRange(min=1), default=10_000, show_default=True)
@run_options
def search(suite: str, track: str, method: str, evaluator: str, budget: float | None, seed: int,
           max_evaluations: int, **kwargs) -> None:
    """Run one search method on SUITE's TRACK.

    With `--evaluator real` this is `run SUITE --tracks TRACK --methods METHOD --seeds SEED` (search under the
    suite's budget, then the final phase of its choice). Replay and synthetic evaluators cost no training:
    the search runs against a table or a cheap problem with a known front, and the anytime hypervolume and
    best error are printed.
    """
    if evaluator == "real":
        for name, value in (("tracks", (track,)), ("methods", (method,)), ("seeds", (seed,))):
            kwargs[name] = kwargs[name] or value
        _run(suite, **kwargs)
        return
    from uniads_bench.search.evaluators import make_evaluator, run_offline_search
    from uniads_bench.search.metrics import anytime
    from uniads_bench.search.tables import TableEvaluator

    load_suite(suite).track(track)
    offline = make_evaluator(evaluator, seed)
    table = offline if isinstance(offline, TableEvaluator) else None
    budget = budget or (table.budget if table else 20.0)
    trace = run_offline_search(method, evaluator, budget, seed, max_evaluations)
    points = anytime(list(trace.observations), list(trace.charges), budget, trace.param_cap, trace.max_epochs,
                     (0.25, 0.5, 1.0))
    unit = "GPU-h" if table else "budget units"
    regret = f"; regret {table.regret(trace.chosen):.2f} test top-1 points" if table else ""
    click.echo(f"{method} on {evaluator}, seed {seed}: {len(trace.observations)} evaluations, "
               f"{trace.spent:.3g} of {budget:g} {unit}; chosen "
               f"{trace.chosen.describe() if trace.chosen else 'none'}{regret}")
    click.echo(tabulate([[f"{p.fraction:.0%}", f"{p.spent:.3g}", f"{p.hypervolume:.4f}", f"{p.best_error:.4f}"]
                         for p in points], headers=["budget", "spent", "hypervolume", "best error"],
                        tablefmt="github"))


@cli.group()
def replay() -> None:
    """Tables for the replay evaluator, built from our own journals."""


@replay.command("build")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The CSV to write (default: RUN_DIR/replay.csv).")
def replay_build(run_dir: Path, output: Path | None) -> None:
    """Turn RUN_DIR's journal (every search evaluation: genes, epochs, top-1, params) into a replay table."""
    from uniads_bench.durable import atomic_write_text
    from uniads_bench.journal import read_journal
    from uniads_bench.search.evaluators import journal_to_table, table_csv

    journal = run_dir / "journal.jsonl"
    if not journal.is_file():
        raise UserError(f"{run_dir} is not a run directory (no journal.jsonl)")
    rows = journal_to_table(read_journal(journal))
    if not rows:
        raise UserError(f"{journal} holds no search evaluations to replay")
    target = output or run_dir / "replay.csv"
    atomic_write_text(target, table_csv(rows))
    click.echo(f"wrote {len(rows)} rows to {target}; use --evaluator replay:{target}")


@cli.group()
def table() -> None:
    """Tabular benchmarks: real trainings of a track's grid at every fidelity and seed (docs/tables.md)."""


@table.command("build")
@click.argument("suite")
@click.argument("track")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The table directory; run the same command on it again to resume an interrupted build.")
@training_options
def table_build(suite: str, track: str, out: Path, **kwargs) -> None:
    """Train every point of TRACK's grid (the suite's [tracks.table]) at every fidelity for every seed, through
    the same engine, journal and executors as a run, and write table.csv with its manifest into --out."""
    import shlex
    import sys

    from uniads_bench.runner.table import build_table

    command = shlex.join(["uniads-bench", *sys.argv[1:]])
    build_table(suite, track, _options(**kwargs), out, command, log=lambda line: click.echo(line, err=True))
    click.echo(f"table: {out}\nverify it with `uniads-bench table verify {out}`; search it with "
               f"--evaluator table:{out}")


@table.command("info")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def table_info(directory: Path) -> None:
    """What a table holds: its grid, fidelities and seeds, outcomes, spread, and how well each fidelity ranks
    points like the top one (Spearman), and validation like test."""
    from uniads_bench.search.tables import describe_table, load_table

    click.echo(describe_table(load_table(directory)))


@table.command("verify")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def table_verify(directory: Path) -> None:
    """Check a table against its manifest: checksum, every (point, fidelity, seed) once, ids and scores sane."""
    from uniads_bench.search.tables import load_table

    table = load_table(directory)  # raises with every problem found
    click.echo(f"{directory}: OK ({len(table.rows)} rows, sha256 {table.manifest['sha256']['table.csv'][:12]}...)")


@cli.command()
@device_option
@click.option("--steps", type=click.IntRange(min=1), default=30, show_default=True)
def calibrate(device: str, steps: int) -> None:
    """Measure this device's training throughput (resnet8x4 and resnet32x4 steps) as a hardware profile.

    Prints a `profiles.json` entry; budgets stay comparable only between runs that use the same profile.
    """
    import json

    from uniads_bench.engine.calibrate import calibrate_profile
    from uniads_bench.runner.options import pick_device

    entry = calibrate_profile(pick_device(device), steps=steps)
    click.echo(json.dumps({entry["name"]: {k: v for k, v in entry.items() if k != "name"}}, indent=2))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def analyze(run_dir: Path) -> None:
    """The search-result analysis of RUN_DIR: option frequency among Pareto and top-k candidates against how
    often each option was sampled, and gene importance for accuracy; written to RUN_DIR/analysis/."""
    from uniads_bench.leaderboard.analyze import analyze as analyze_run
    from uniads_bench.leaderboard.analyze import render_analysis, write_analysis

    report = analyze_run(run_dir)
    paths = write_analysis(report, run_dir / "analysis")
    click.echo(render_analysis(report))
    click.echo("\nwritten: " + ", ".join(str(p) for p in paths))


@cli.group()
def leaderboard() -> None:
    """Show, re-render and check a suite's leaderboard under --leaderboard-dir, or render them all as a site."""


board_dir_option = click.option("--leaderboard-dir", type=click.Path(file_okay=False, path_type=Path),
                                default=Path("leaderboards"), show_default=True, envvar="UNIADS_LEADERBOARD_DIR")


def _board(suite: str, directory: Path, committed: bool = False):
    """The rows of SUITE's board under `directory`; with `committed` (a read-only command given no
    --leaderboard-dir), the project's committed board when `directory` has none."""
    from uniads_bench.leaderboard import load_board
    from uniads_bench.leaderboard.committed import ENV, committed_board_dir

    path = directory / f"{suite}.json"
    if path.exists():
        return load_board(path)
    shipped = committed_board_dir()
    if committed and shipped is not None and (shipped / f"{suite}.json").exists():
        click.echo(f"(no board at {path}; this is the committed board at {shipped / f'{suite}.json'})", err=True)
        return load_board(shipped / f"{suite}.json")
    where = (f"the committed boards are in {shipped}" if shipped is not None else
             "the committed boards are in the leaderboards/ folder of the uniads-bench repository and of its Docker "
             f"image (${ENV} points there)")
    raise UserError(f"no leaderboard for suite {suite!r} at {path}; {where}: pass --leaderboard-dir DIR, or measure "
                    f"one with `uniads-bench run {suite}`")


def _given(name: str) -> bool:
    """Whether option `name` was given on the command line (not a default, nor the environment's, as the
    Docker image sets it)."""
    return click.get_current_context().get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


@leaderboard.command("show")
@click.argument("suite")
@board_dir_option
def leaderboard_show(suite: str, leaderboard_dir: Path) -> None:
    """Print SUITE's leaderboard, one table per track."""
    from uniads_bench.leaderboard import render_markdown
    from uniads_bench.leaderboard.render import budget_unit

    rows = _board(suite, leaderboard_dir, committed=not _given("leaderboard_dir"))
    unit = budget_unit(load_suite(suite, check=False).hardware_profile) if suite in known_suites() else "GPU-h"
    click.echo(render_markdown(suite, rows, unit=unit))


@leaderboard.command("render")
@click.argument("suite")
@board_dir_option
def leaderboard_render(suite: str, leaderboard_dir: Path) -> None:
    """Re-render SUITE's Markdown from its JSON records, refreshing the reported rows from the suite file."""
    from uniads_bench.leaderboard import merge_rows, reported_rows, write_board
    from uniads_bench.locks import board_lock

    loaded = load_suite(suite)
    with board_lock(leaderboard_dir / f"{suite}.json"):
        rows = [r for r in _board(suite, leaderboard_dir) if r.kind == "measured"]
        write_board(leaderboard_dir, loaded, merge_rows(rows, reported_rows(loaded)))
    click.echo(f"rendered {leaderboard_dir / (suite + '.md')}")


@leaderboard.command("check")
@click.argument("suite")
@board_dir_option
def leaderboard_check(suite: str, leaderboard_dir: Path) -> None:
    """Validate SUITE's board: schema, seed rules, provenance of measured rows, sources of reported rows."""
    from uniads_bench.leaderboard import check_rows

    rows = _board(suite, leaderboard_dir, committed=not _given("leaderboard_dir"))
    problems = check_rows(rows)
    if problems:
        raise UserError(f"leaderboard {suite} has {len(problems)} problem(s):", problems)
    click.echo(f"leaderboard {suite}: {len(rows)} rows ok")


@leaderboard.command("site")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The site's folder: created, or replaced when it holds a site written by this command.")
@board_dir_option
def leaderboard_site(out: Path, leaderboard_dir: Path) -> None:
    """Render every board under --leaderboard-dir into a static HTML site in --out, to browse offline.

    Per suite and track: sortable tables of the measured rows (one per measurement condition), each row's
    record one click away, a user distiller's `compare` deltas, the published numbers apart, and the Pareto
    and anytime plots. The folder is self-contained: open OUT/index.html from disk or put it on any static
    host. Without --leaderboard-dir and no board in ./leaderboards, the committed boards are rendered.
    """
    from uniads_bench.leaderboard.committed import committed_board_dir
    from uniads_bench.leaderboard.site import find_boards, write_site

    boards = find_boards(leaderboard_dir) if leaderboard_dir.is_dir() else []
    shipped = committed_board_dir()
    if not boards and not _given("leaderboard_dir") and shipped is not None:
        boards = find_boards(shipped)
        if boards:
            click.echo(f"(no board in {leaderboard_dir}; rendering the committed boards in {shipped})", err=True)
    if not boards:
        raise UserError(f"no leaderboard (SUITE.json) in {leaderboard_dir}: pass --leaderboard-dir DIR, or "
                        "measure one with `uniads-bench run SUITE`")
    written = write_site(out, boards)
    click.echo(f"wrote {len(written)} files for {len(boards)} board(s) ({', '.join(b.suite for b in boards)}) to "
               f"{out}; open {out / 'index.html'}")


def main() -> None:
    """Entry point: map user errors to exit code 2 with one clear message."""
    from uniads_bench.runner.signals import RunInterrupted

    try:
        cli.main(standalone_mode=False)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except RunInterrupted as exc:
        click.echo(f"stopped: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
