"""Vanilla: the reference student trained with cross-entropy only (the "student" column of KD tables)."""

from uniads_bench.methods import FixedMethod

METHOD = FixedMethod(
    name="vanilla",
    distiller="ce",
    description="reference student, cross-entropy only",
    source="standard supervised training (RepDistiller/mdistiller 'vanilla' rows)",
)
