"""Every size gate of the loss, in one place: which layout a batch shape takes.

Each gate names the measurement that set it and the device it was measured on.
All were measured on a CPU (two cores, one torch thread, float32) and apply
unchanged on CUDA, where no measurement has been made yet: on a GPU, where a
kernel launch costs what a small CPU operation does, the same trade-offs (fewer
operations against fewer elements) hold roughly, but the levels are unverified.
Tests force every layout by patching these names (``skcrl._gates.X``), so the
modules read them here at each call, never as copies of their own.
"""

from __future__ import annotations

from torch import Tensor

#: Class level. From this many (task, class) columns on, the probabilities are
#: computed row by row and each column's positives come from one sort of the
#: batch by (column, score), its negatives from a top-k of chunk maxima, instead
#: of a top-k per column: ``python benchmarks/bench_gates.py --gates
#: MANY_COLUMNS`` (CPU: the top-k per column costs more from about 32 columns).
MANY_COLUMNS = 32

#: Class level. From this many (sample, task) rows on, the rows that read their
#: column's lists are first narrowed to those of minority columns: below it, the
#: selection's operations cost about what the rows it drops save
#: (``bench_gates.py --gates SELECT_ANCHORS_FROM``, CPU).
SELECT_ANCHORS_FROM = 256

#: Class level, absolute comparison with few columns. From this many (sample,
#: task) rows on, its rows are narrowed to those of minority columns as well
#: (its own path reads each row's own column only, so the selection pays later
#: than :data:`SELECT_ANCHORS_FROM`): ``bench_gates.py --gates
#: ABSOLUTE_ANCHORS_FROM`` (CPU, 2026-12-06: the selection costs 7% at 512
#: rows, is level at 1152, saves 4% at 2048 and 12% at 4096).
ABSOLUTE_ANCHORS_FROM = 2048

#: The minority rule (SPEC §1) of up to this many classes per task compares
#: every pair of (count, class) keys at once, ``(T, C, C)``; above it, a sort
#: and a cumulative sum (``bench_gates.py --gates PAIRWISE_MINORITY_UP_TO``,
#: CPU: pairwise 6% faster at 10 classes, 2% at 24-32, level at 64-100).
PAIRWISE_MINORITY_UP_TO = 64

#: Class level, relative comparison class by class: the largest query matrix,
#: ``W x (W + W (W - 1) / 2)`` entries, built for it (about 16 MB in float32 at
#: W = 400); wider lists go sample by sample, whose cost grows linearly in k.
RELATIVE_QUERIES_UP_TO = 1 << 22

#: Rows of at least this many values take ``_mining.top_k``'s chunked route on
#: the CPU, for rows of ``16 k`` to ``64 k`` values (``python
#: benchmarks/bench_topk.py``, CPU: about twice as fast from 32 rows of 1,152
#: on, slower below about 20 rows of 1,152). Never on CUDA, whose top-k has no
#: such slow path.
CHUNKED_FROM = 1 << 15

#: Instance level. Up to this many (task, sample, sample) entries, the pairs'
#: weights go into one dense matrix per task and the embeddings' gradient is one
#: batched product; above it, rows are gathered pair by pair in blocks
#: (``bench_gates.py --gates DENSE_PAIRS``, CPU: dense 0.70x the blocked time at
#: 512 rows, blocks 0.63x the dense time at 1024).
DENSE_PAIRS = 1 << 18

#: Instance level. Elements of one ``(T, anchors, n)`` similarity block (and of
#: one block of gathered pairs): larger batches are mined in blocks of anchors,
#: so that memory stays linear in ``n`` (a memory bound, not a speed gate).
SIMILARITY_BLOCK = 1 << 22


def many_columns(n_columns: int) -> bool:
    """Whether the class level takes the layout of many columns."""
    return n_columns >= MANY_COLUMNS


def selects_anchors(n_rows: int, n_slots: int) -> bool:
    """Whether the class level narrows its ``n_rows`` (sample, task) rows to
    the ``n_slots`` that can hold anchors."""
    return SELECT_ANCHORS_FROM <= n_rows and n_slots < n_rows


def selects_absolute_anchors(n_rows: int, n_slots: int) -> bool:
    """Whether the class level's absolute comparison with few columns narrows
    its ``n_rows`` rows to the ``n_slots`` that can hold anchors."""
    return ABSOLUTE_ANCHORS_FROM <= n_rows and n_slots < n_rows


def pairwise_minority(n_classes: int) -> bool:
    """Whether the minority rule compares every pair of classes of a task."""
    return n_classes <= PAIRWISE_MINORITY_UP_TO


def class_by_class(n_columns: int, width: int, n: int) -> bool:
    """Whether the relative comparison runs class by class, with about
    ``K W^2 / 2`` queries and a fixed number of operations, rather than sample
    by sample, with ``n T W`` queries and a few more operations (CPU,
    ``bench_gates.py --gates class_by_class``: the class-by-class path wins up
    to about twice the queries); never with a query matrix above
    :data:`RELATIVE_QUERIES_UP_TO` entries."""
    n_queries = width * (width + width * (width - 1) // 2)
    return n_columns * (width + 1) < 4 * n and n_queries <= RELATIVE_QUERIES_UP_TO


def uses_chunks(values: Tensor, k: int) -> bool:
    """Whether ``_mining.top_k`` takes the chunked route for ``values``."""
    n = values.shape[-1]
    return (
        values.device.type == "cpu"
        and 16 * k <= n < 64 * k
        and values.numel() >= CHUNKED_FROM
    )


def dense_pairs(n_tasks: int, n: int) -> bool:
    """Whether the instance level's embedding gradient uses dense pair matrices."""
    return n_tasks * n * n <= DENSE_PAIRS


def similarity_block(per_anchor: int) -> int:
    """Anchors per block when each costs ``per_anchor`` elements."""
    return max(1, SIMILARITY_BLOCK // max(1, per_anchor))
