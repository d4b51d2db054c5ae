"""The one exception type of the Keras layers and metrics."""


class LayerError(ValueError):
    """A Keras layer or metric of `levante.keras` given settings or inputs that cannot work.

    The message names the argument (`factor=5`, `sequence_axis=3`, `step=7`), says what was
    wrong, and what to write instead. It is a `ValueError`, the type Keras raises for bad
    arguments, so code that catches Keras' errors catches these too.
    """
