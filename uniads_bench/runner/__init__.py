"""Runner: the run loop, run directories, journal, budget ledgers, teachers and provenance; the only writer of files."""
