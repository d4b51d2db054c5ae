"""Keras 3 metrics with mlable's API.

>>> from levante.keras import metrics
>>> metrics.__all__
['CategoricalGroupAccuracy']
"""

from ._group_accuracy import CategoricalGroupAccuracy

__all__ = ["CategoricalGroupAccuracy"]
