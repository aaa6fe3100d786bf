"""The comparison behind ``python -m skcrl``: CRL against cross-entropy, class
weighting, imbalanced-learn's samplers and the non-neural models a user would fit
instead, on a built-in data set or the user's own table, with paired tests over
seeds."""

from ._methods import (
    IMAGE_TUNING_GRID,
    METHODS,
    REFERENCES,
    TUNING_GRID,
    Method,
    build,
    make_sampler,
)
from ._probabilities import probability_scores, training_distribution_weight
from ._report import format_table, plot, plotting_available, read_csv, write_csv
from ._run import (
    DATASETS,
    METRICS,
    DataSet,
    csv_dataset,
    default_budget,
    run_comparison,
    summarise,
    tabular_preprocessor,
)
from ._statistics import (
    LEVEL,
    PairedTest,
    SignedRankTest,
    holm,
    paired_t_test,
    seeds_needed,
    signed_rank_test,
)
from ._suite import IMAGE_ATTRIBUTE_METHODS, IMAGE_METHODS, SUITE, TRACKS, Task
from ._verdict import (
    PairedDifference,
    against_baselines,
    paired_difference,
    scores_by_method,
    split_ratio,
    verdict_lines,
)

__all__ = [
    "DATASETS",
    "IMAGE_ATTRIBUTE_METHODS",
    "IMAGE_METHODS",
    "IMAGE_TUNING_GRID",
    "LEVEL",
    "METHODS",
    "METRICS",
    "REFERENCES",
    "SUITE",
    "TRACKS",
    "TUNING_GRID",
    "DataSet",
    "Method",
    "PairedDifference",
    "PairedTest",
    "SignedRankTest",
    "Task",
    "against_baselines",
    "build",
    "csv_dataset",
    "default_budget",
    "format_table",
    "holm",
    "make_sampler",
    "paired_difference",
    "paired_t_test",
    "plot",
    "plotting_available",
    "probability_scores",
    "read_csv",
    "run_comparison",
    "scores_by_method",
    "seeds_needed",
    "signed_rank_test",
    "split_ratio",
    "summarise",
    "tabular_preprocessor",
    "training_distribution_weight",
    "verdict_lines",
    "write_csv",
]
