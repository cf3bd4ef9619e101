"""Runner: the run loop, its options, run directories, journal writing, budget ledgers, executors, provenance.

It writes the run directory; boards are written by `leaderboard/`, teachers by `teachers.py`, prepared data by
`data/`.
"""
