"""Where the project's committed leaderboards are, from wherever uniads-bench runs.

`leaderboard show` and `check` read a suite's board from ``--leaderboard-dir`` (default ``./leaderboards``). A
user who runs them outside the checkout, or in the container before measuring anything, still gets the committed
board: from ``$UNIADS_COMMITTED_BOARDS`` when set (the Docker image sets it to its copy), else from the
``leaderboards/`` folder of the checkout the package is installed from (an editable install). A wheel installed
elsewhere has no copy; the error then says where the boards are.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "UNIADS_COMMITTED_BOARDS"


def committed_board_dir() -> Path | None:
    """The folder holding the committed boards, or None when this installation has no copy."""
    if ENV in os.environ:
        directory = Path(os.environ[ENV])
        return directory if directory.is_dir() else None
    checkout = Path(__file__).resolve().parents[2] / "leaderboards"
    return checkout if (checkout.parent / "pyproject.toml").is_file() and checkout.is_dir() else None
