"""DIST: inter- and intra-class Pearson relations, CIFAR settings (tau 4, CE 1, KD 2, beta = gamma = 1)."""

from uniads_bench.methods import FixedMethod

METHOD = FixedMethod(
    name="dist",
    distiller="dist",
    hparams={"tau": 4.0, "beta": 1.0, "gamma": 1.0, "ce_weight": 1.0, "kd_weight": 2.0},
    description="reference student, DIST tau 4, CE 1 + KD 2",
    source="Huang et al., Knowledge Distillation from A Stronger Teacher, NeurIPS 2022; hunto/DIST_KD dist_cifar.yaml",
)
