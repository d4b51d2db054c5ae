"""levante.train: the training loop, optimizer, checkpoints, logs and plots."""

from ._accumulate import accumulate_gradients
from ._checkpoint import read_record
from ._config import TrainConfig
from ._distributed import initialize_distributed
from ._errors import TrainError
from ._loop import train
from ._mesh import batch_sharding, mesh, replicated
from ._optimizer import decay_mask, optimizer, schedule
from ._partition import TENSOR_RULES, param_shardings, param_specs
from ._run import load_params
from ._sharding import process_rows, shard_batch, sharded_init
from ._shards import load_shards, save_shards

__all__ = [
    "TENSOR_RULES",
    "TrainConfig",
    "TrainError",
    "accumulate_gradients",
    "batch_sharding",
    "decay_mask",
    "initialize_distributed",
    "load_params",
    "load_shards",
    "mesh",
    "optimizer",
    "param_shardings",
    "param_specs",
    "process_rows",
    "read_record",
    "replicated",
    "save_shards",
    "schedule",
    "shard_batch",
    "sharded_init",
    "train",
]
