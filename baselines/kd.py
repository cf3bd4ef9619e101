"""KD: Hinton distillation with the literature's CIFAR defaults (T=4, CE 0.1, KD 0.9)."""

from uniads_bench.methods import FixedMethod

METHOD = FixedMethod(
    name="kd",
    distiller="kd",
    hparams={"temperature": 4.0, "ce_weight": 0.1, "kd_weight": 0.9},
    description="reference student, Hinton KD T=4, CE 0.1 / KD 0.9",
    source="Hinton et al. 2015; RepDistiller train_student.py (-r 0.1 -a 0.9)",
)
