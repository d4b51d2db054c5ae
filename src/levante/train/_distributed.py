"""Several processes (one per host, or several on one host) joined by JAX's own runtime.

`jax.distributed.initialize` connects every process to a coordinator (process 0's
address); afterwards `jax.devices()` lists the devices of all processes, a mesh spans them,
and XLA's collectives (NCCL on GPUs, Gloo on CPUs) carry the sharded step's communication.
Each process sends heartbeats to the coordinator: when one dies, the coordinator marks it
unhealthy after `heartbeat_timeout` seconds and every other process stops with an error
naming the lost task (process) id, instead of waiting forever in a collective.
"""

from __future__ import annotations

import jax

from ._errors import TrainError


def check_distributed(coordinator, num_processes, process_id):
    """Check the settings of `initialize_distributed` (all three or none); returns whether
    they ask for several processes.

    >>> check_distributed(None, None, None), check_distributed("localhost:1234", 2, 1)
    (False, True)
    """
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if not any(given):
        return False
    if not all(given):
        raise TrainError("several processes need all of --coordinator HOST:PORT, "
                         "--num-processes P and --process-id I")
    host, colon, port = str(coordinator).rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TrainError(f"--coordinator is HOST:PORT (e.g. localhost:12355), not "
                         f"{coordinator!r}")
    if not isinstance(num_processes, int) or num_processes < 1:
        raise TrainError(f"--num-processes is at least 1, not {num_processes!r}")
    if not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise TrainError(f"--process-id is 0 ... {num_processes - 1}, not {process_id!r}")
    return True


def initialize_distributed(coordinator, num_processes, process_id, heartbeat_timeout=20,
                           initialization_timeout=300):
    """Join `num_processes` processes through `jax.distributed.initialize`; call it in every
    process before anything else touches JAX's devices.

    `coordinator` is process 0's "HOST:PORT" (process 0 listens there). On CPUs the
    collectives use Gloo (`jax_cpu_collectives_implementation`). A process that stops
    sending heartbeats for `heartbeat_timeout` seconds makes the others exit (non-zero,
    naming its id); a process that cannot reach the coordinator gives up after
    `initialization_timeout` seconds. Raises `TrainError` for bad settings.

    Two processes on one machine (run each line in its own terminal):

        python -c "import levante.train as t; t.initialize_distributed('localhost:12355', 2, 0)"
        python -c "import levante.train as t; t.initialize_distributed('localhost:12355', 2, 1)"

    >>> try:
    ...     initialize_distributed("localhost", 2, 0)
    ... except TrainError as error:
    ...     print(error)
    --coordinator is HOST:PORT (e.g. localhost:12355), not 'localhost'
    """
    check_distributed(coordinator, num_processes, process_id)
    # only the CPU client reads it; GPUs keep NCCL
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id,
                               heartbeat_timeout_seconds=heartbeat_timeout,
                               initialization_timeout=initialization_timeout)
