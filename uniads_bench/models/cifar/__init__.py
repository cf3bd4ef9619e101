"""The CIFAR model zoo of the knowledge-distillation literature (32 px inputs), one module per family.

Definitions follow RepDistiller/mdistiller `models/cifar` so that parameter counts match the published tables
and published checkpoints load; see each module's docstring for what a stage tap is.
"""
