"""levante.train: the training loop, optimizer, checkpoints, logs and plots."""

from ._checkpoint import read_record
from ._config import HELP, TrainConfig, from_mapping, read_config_file
from ._errors import TrainError
from ._loop import sample_text, train
from ._optimizer import decay_mask, optimizer, schedule
from ._run import corpus, load_params, model_of, open_run

__all__ = [
    "HELP",
    "TrainConfig",
    "TrainError",
    "corpus",
    "decay_mask",
    "from_mapping",
    "load_params",
    "model_of",
    "open_run",
    "optimizer",
    "read_config_file",
    "read_record",
    "sample_text",
    "schedule",
    "train",
]
