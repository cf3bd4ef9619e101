"""DKD: decoupled KD with mdistiller's CIFAR defaults (alpha 1, beta 8, T=4, 20-epoch warm-up, CE 1).

Per-pair betas (2 for res56->res20 and res110->res32, 6 for vgg13->vgg8 and the WRN pairs) are set by each
track's `method_hparams.dkd` in the suite file.
"""

from uniads_bench.search import FixedMethod

METHOD = FixedMethod(
    name="dkd",
    distiller="dkd",
    hparams={"alpha": 1.0, "beta": 8.0, "temperature": 4.0, "warmup_epochs": 20.0, "ce_weight": 1.0},
    description="reference student, DKD alpha 1, beta 8 (per-pair overrides), T=4, 20-epoch warm-up",
    source="Zhao et al., Decoupled Knowledge Distillation, CVPR 2022; mdistiller configs/cifar100/dkd",
)
