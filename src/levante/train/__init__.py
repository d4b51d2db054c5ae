"""levante.train: the training loop, optimizer, checkpoints, logs and plots."""

from ._checkpoint import read_record
from ._config import TrainConfig
from ._errors import TrainError
from ._loop import train
from ._optimizer import decay_mask, optimizer, schedule
from ._run import load_params

__all__ = [
    "TrainConfig",
    "TrainError",
    "decay_mask",
    "load_params",
    "optimizer",
    "read_record",
    "schedule",
    "train",
]
