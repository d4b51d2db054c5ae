"""Several processes (one per host, or several on one host) joined by JAX's own runtime.

`jax.distributed.initialize` connects every process to a coordinator (process 0's
address); afterwards `jax.devices()` lists the devices of all processes, a mesh spans them,
and XLA's collectives (NCCL on GPUs, Gloo on CPUs) carry the sharded step's communication.
Each process sends heartbeats to the coordinator: when one dies, the coordinator marks it
unhealthy after `heartbeat_timeout` seconds and every other process stops with an error
naming the lost task (process) id, instead of waiting forever in a collective.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

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
    `initialization_timeout` seconds. Raises `TrainError` for bad settings, a coordinator
    that does not answer in time, or a port process 0 cannot listen on.

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
    if process_id == 0:
        # gRPC's failure to bind is sometimes an exception and sometimes a process abort
        _check_port_free(coordinator, num_processes)
    if process_id != 0:
        # XLA aborts the whole process (SIGABRT, a C++ stack trace) when the coordinator
        # cannot be reached in time: wait for its port here, where a failure can be said
        _wait_for_coordinator(coordinator, initialization_timeout)
    # only the CPU client reads it; GPUs keep NCCL
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id,
                                   heartbeat_timeout_seconds=heartbeat_timeout,
                                   initialization_timeout=initialization_timeout)
    except (RuntimeError, ValueError) as error:  # JaxRuntimeError is a RuntimeError
        where = ("cannot listen on" if process_id == 0 else "cannot join the coordinator at")
        raise TrainError(f"process {process_id} of {num_processes} {where} {coordinator}: "
                         f"{str(error).splitlines()[0]}") from None


def _check_port_free(coordinator, num_processes):
    """TrainError when process 0 could not listen on the coordinator's port (the
    coordinator's server listens on every address, so the port is tried on all of them)."""
    port = int(coordinator.rpartition(":")[2])
    for family, address in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except OSError:  # no IPv6 on this machine
            continue
        try:
            probe.bind((address, port))
        except OSError as error:
            raise TrainError(f"process 0 of {num_processes} cannot listen on {coordinator}: "
                             f"port {port} is taken ({error.strerror or error}); choose "
                             "another port for --coordinator") from None
        finally:
            probe.close()
        return  # one successful bind on the dual-stack address covers both families


def _wait_for_coordinator(coordinator, timeout):
    """Return once process 0's HOST:PORT accepts a connection; TrainError after `timeout`
    seconds."""
    host, _, port = coordinator.rpartition(":")
    host = host.strip("[]")  # [::1]:1234
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise TrainError(f"the coordinator {coordinator} (process 0) did not answer "
                                 f"within {timeout:g} s ({error.strerror or error}): start "
                                 "process 0 with the same --coordinator, or check the "
                                 "address") from None
        time.sleep(0.5)


def check_resume_processes(run, num_processes):
    """Before joining any process: a run resumes with the number of processes that wrote
    it (1 without `--coordinator`), read from its `run.json`; otherwise process 0 would wait
    for partners only to find the checkpoint of another topology. A `run.json` that cannot
    be read is left to the resume's own checks.

    >>> check_resume_processes("no-such-run", 2)  # nothing to compare with
    """
    path = Path(run) / "run.json"
    try:
        if path.stat().st_size > 64 << 20:
            return
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return
    if not isinstance(record, dict):
        return
    shards = record.get("shards")
    wrote = shards.get("processes") if isinstance(shards, dict) else 1
    given = num_processes or 1
    if isinstance(wrote, int) and wrote != given:
        how = ("without --coordinator" if wrote == 1 else
               f"with --coordinator HOST:PORT --num-processes {wrote} --process-id I")
        raise TrainError(f"{run} was trained by {wrote} process{'es' if wrote > 1 else ''}, "
                         f"not {given}: resume it {how} (the mesh and process count are "
                         "those of the run)")
