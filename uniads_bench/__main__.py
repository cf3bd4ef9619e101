"""`python -m uniads_bench` runs the command-line interface."""

from uniads_bench.cli import main

main()
