"""The one exception type of the building blocks."""


class NetsError(ValueError):
    """A building block called with inputs or settings that cannot work, and the fix."""
