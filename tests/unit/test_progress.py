"""The live status a run shows: one line per job with budget, evaluations, best result, elapsed and ETA; a
redrawn block on a terminal, periodic plain lines elsewhere; evaluation lines only when verbose."""

from __future__ import annotations

import io

from uniads_bench.runner.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def search_job(progress: Progress, clock: Clock) -> None:
    progress.expect(1)
    progress.start("cnn/uniads/0", declared=0.002)
    for i, (epochs, top1) in enumerate([(1, 40.0), (1, 55.0), (3, 50.0), (10, 20.0)], start=1):
        clock.now += 10.0
        progress.evaluation(f"cnn/uniads/0/search/{i}", f"[cnn/uniads/0/search/{i}] line", "search",
                            0.0005 * i, epochs, top1, feasible=epochs != 10)
    clock.now += 5.0
    progress.final("cnn/uniads/0", 30)
    clock.now += 20.0
    progress.evaluation("cnn/uniads/0/final", "[cnn/uniads/0/final] line", "final", 0.0, 30, 97.5, True)
    progress.finish("cnn/uniads/0", "test top-1 97.50%")


def test_plain_lines_off_a_terminal_at_most_every_interval_and_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    search_job(Progress(out, interval_s=25.0, clock=clock), clock)
    lines = out.getvalue().splitlines()
    assert lines == [
        "[cnn/uniads/0] search 25% of 0.002 h budget, 1 evals, best val 40.00% @1 ep, ETA search 0:30, 0:10 elapsed",
        # the 3-epoch result beats the 1-epoch ones although it is lower (fidelities are not compared), and the
        # infeasible 10-epoch one does not count
        "[cnn/uniads/0] search 100% of 0.002 h budget, 4 evals, best val 50.00% @3 ep, 0:40 elapsed",
        "[cnn/uniads/0] search 100% of 0.002 h budget, 4 evals, best val 50.00% @3 ep, final training (30 ep) 0:20 in,"
        " 1:05 elapsed",
        "[cnn/uniads/0] done in 1:05: test top-1 97.50%",
    ]


def test_verbose_adds_every_evaluation_line() -> None:
    out, clock = io.StringIO(), Clock()
    search_job(Progress(out, verbose=True, interval_s=1e9, clock=clock), clock)
    text = out.getvalue()
    assert "[cnn/uniads/0/search/3] line" in text and "[cnn/uniads/0/final] line" in text


def test_a_terminal_gets_one_block_redrawn_in_place_with_messages_above_it() -> None:
    out, clock = Terminal(), Clock()
    progress = Progress(out, redraw_s=0.0, clock=clock)
    search_job(progress, clock)
    progress.message("[cnn] teacher cache: ...")
    progress.close()
    text = out.getvalue()
    assert "\x1b[2F\x1b[J" in text  # the two-line block (the job, the total) was cleared before each redraw
    final_screen = text.rsplit("\x1b[J", 1)[1]
    assert final_screen == "1 of 1 jobs done, 1:05 elapsed\n"
    assert "[cnn] teacher cache: ...\n" in text and "line" not in text
