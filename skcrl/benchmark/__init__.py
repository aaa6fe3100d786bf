"""The comparison behind ``python -m skcrl``: CRL against cross-entropy, class
weighting and imbalanced-learn's samplers on a built-in long-tailed data set."""

from ._methods import METHODS, Method, build
from ._report import format_table, plot, write_csv
from ._run import DATASETS, METRICS, DataSet, run_comparison, summarise
from ._suite import SUITE, Task

__all__ = [
    "DATASETS",
    "METHODS",
    "METRICS",
    "SUITE",
    "DataSet",
    "Method",
    "Task",
    "build",
    "format_table",
    "plot",
    "run_comparison",
    "summarise",
    "write_csv",
]
