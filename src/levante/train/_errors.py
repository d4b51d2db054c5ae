"""The one exception type of training runs, checkpoints and the command line."""


class TrainError(RuntimeError):
    """A run that cannot go on (bad settings, a corrupt checkpoint, a non-finite loss),
    with what happened and what to do."""
