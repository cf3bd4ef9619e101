"""DKD: decoupled KD with mdistiller's CIFAR defaults (alpha 1, beta 8, T=4, CE 1, a warm-up of 20
of 240 epochs, scaled with shorter runs: `distill.dkd.dkd_ramp`).

Per-pair betas (2 for res56->res20 and res110->res32, 6 for vgg13->vgg8 and the WRN pairs) are set by each
track's `method_hparams.dkd` in the suite file.
"""

from uniads_bench.methods import FixedMethod

METHOD = FixedMethod(
    name="dkd",
    distiller="dkd",
    hparams={"alpha": 1.0, "beta": 8.0, "temperature": 4.0, "warmup_epochs": 20.0, "schedule_epochs": 240.0,
             "ce_weight": 1.0},
    description="reference student, DKD alpha 1, beta 8 (per-pair overrides), T=4, warm-up 20 of 240 epochs",
    source="Zhao et al., Decoupled Knowledge Distillation, CVPR 2022; mdistiller configs/cifar100/dkd",
)
