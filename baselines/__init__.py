"""Baseline method definitions, written against the public API only and registered through the
`uniads_bench.methods` entry-point group, exactly as a third-party package would register its own."""
