"""The one exception type of the data area."""


class DataError(ValueError):
    """A corpus, vocabulary or batch request that cannot work, with what to do instead."""
