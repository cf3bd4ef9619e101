"""Run directories: a fresh one with its resolved config, or a resumed one whose config must match."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from uniads_bench.config import Suite
from uniads_bench.durable import atomic_write_json
from uniads_bench.errors import UserError
from uniads_bench.runner.options import RunOptions


def config_record(suite: Suite, options: RunOptions) -> dict[str, Any]:
    """The resolved config written into the run directory; its hash keys resume."""
    return {"suite": suite.to_dict(), "config_hash": suite.config_hash(), "budget_scale": options.budget_scale,
            "data_limit": options.data_limit, "deterministic": options.deterministic,
            "precision": options.precision}


def diff_keys(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in diff_keys(old.get(k), new.get(k), f"{path}.{k}" if path else k)]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def prepare_run_dir(suite: Suite, options: RunOptions) -> Path:
    """A fresh run directory with its config, or the resume directory after checking its config matches."""
    record = config_record(suite, options)
    if options.resume is not None:
        config_path = options.resume / "config.json"
        if not config_path.is_file():
            raise UserError(f"{options.resume} is not a run directory (no config.json); give a directory "
                            "written by `uniads-bench run`")
        try:
            old = json.loads(config_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot resume {options.resume}: its config.json does not parse ({exc}); resume only "
                            "a directory written by `uniads-bench run`, or start a new run without --resume") from exc
        if not isinstance(old, dict):
            raise UserError(f"cannot resume {options.resume}: its config.json is not a run config")
        if any(old.get(k, "auto" if k == "precision" else None) != record[k]
               for k in ("config_hash", "budget_scale", "data_limit", "precision")):
            diffs = diff_keys(old, record)
            raise UserError(f"cannot resume {options.resume}: the config changed", diffs[:20])
        return options.resume
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = options.out_dir / f"{suite.name}-{stamp}-{record['config_hash'][:8]}"
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise UserError(f"cannot create the run directory {run_dir} ({exc.strerror or exc}); give --out a "
                        "directory you can write to") from exc
    try:
        atomic_write_json(run_dir / "config.json", record)
    except OSError as exc:
        run_dir.rmdir()
        raise UserError(f"cannot write {run_dir / 'config.json'} ({exc.strerror or exc}); give --out a directory "
                        "you can write to") from exc
    return run_dir
