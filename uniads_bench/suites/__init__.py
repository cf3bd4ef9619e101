"""Shipped suite files (TOML), loaded by name through `uniads_bench.config.load_suite`."""
