"""A deliberately simple, loop-based CRL written from docs/spec.md alone.

It shares no code with skcrl: Python lists, ``sorted`` and one scalar tensor per
distance, so that values and gradients can be compared with the vectorised loss.
Mining ties are broken by sample index here; tests use data without ties.
"""

import math
from collections import Counter

import torch


def _tasks(logits, target, embeddings):
    """(labels, probabilities (n, C), embeddings (n, D) or None) per task."""
    if target.dim() == 1:
        return [(target.tolist(), logits.softmax(dim=1), embeddings)]
    tasks = []
    for j in range(target.shape[1]):
        p1 = torch.sigmoid(logits[:, j])
        probs = torch.stack([1 - p1, p1], dim=1)
        emb = None
        if embeddings is not None:
            emb = embeddings[:, j] if embeddings.dim() == 3 else embeddings
        tasks.append(([int(v) for v in target[:, j].tolist()], probs, emb))
    return tasks


def _minority(labels, rho):
    counts = Counter(labels)
    chosen, total = [], 0
    for c in sorted(counts, key=lambda c: (counts[c], c)):
        if total + counts[c] > rho * len(labels):
            break
        total += counts[c]
        chosen.append(c)
    return [c for c in chosen if counts[c] >= 2]


def _anchor_records(labels, probs, emb, level, k, rho, weights):
    """A (list of d+, list of d-, anchor weight) triple per anchor. Samples of
    weight 0 take no part (SPEC §10)."""
    kept = [i for i in range(len(labels)) if weights[i] > 0]
    records = []
    for c in _minority([labels[i] for i in kept], rho):
        members = [i for i in kept if labels[i] == c]
        others = [i for i in kept if labels[i] != c]
        if level == "class":
            s = probs[:, c]
            positives = sorted(members, key=lambda i: (float(s[i].detach()), i))[:k]
            negatives = sorted(others, key=lambda i: (-float(s[i].detach()), i))[:k]
            for a in members:
                d_pos = [torch.abs(s[a] - s[p]) for p in positives if p != a]
                d_neg = [s[a] - s[q] for q in negatives]
                records.append((d_pos, d_neg, weights[a]))
        else:
            units = {i: emb[i] / torch.sqrt((emb[i] ** 2).sum()) for i in kept}

            def dist(a, b, units=units):
                return torch.sqrt(((units[a] - units[b]) ** 2).sum())

            for a in members:
                mates = [i for i in members if i != a]
                positives = sorted(
                    mates, key=lambda i: (-float(dist(a, i).detach()), i)
                )[:k]
                negatives = sorted(
                    others, key=lambda i: (float(dist(a, i).detach()), i)
                )[:k]
                records.append(
                    (
                        [dist(a, p) for p in positives],
                        [dist(a, q) for q in negatives],
                        weights[a],
                    )
                )
    return records


def _histogram(values, lo, hi, n_bins):
    """``values``: (value, weight) pairs; each value enters with its weight and
    the histogram is divided by the total weight."""
    step = (hi - lo) / (n_bins - 1)
    bins = [0.0] * n_bins
    for v, weight in values:
        t = (torch.clamp(v, lo, hi) - lo) / step
        b = min(math.floor(float(t.detach())), n_bins - 2)
        w = t - b
        bins[b] = bins[b] + weight * (1 - w)
        bins[b + 1] = bins[b + 1] + weight * w
    total = sum(weight for _, weight in values)
    return [h / total for h in bins]


def _mean(weighted, zero):
    """Weighted mean of (value, weight) pairs; 0 when there are none."""
    total = sum(weight for _, weight in weighted)
    if not weighted or total == 0:
        return zero
    return sum(value * weight for value, weight in weighted) / total


#: The relative comparison's hinge; a test swaps it, and skcrl's one function
#: (skcrl._comparisons.relative_hinges) with it, for a non-homogeneous one.
HINGE = torch.relu


def reference_crl_loss(
    logits,
    target,
    embeddings=None,
    level="class",
    comparison="relative",
    k=25,
    margin=0.5,
    rho=0.5,
    n_bins=32,
    sample_weight=None,
):
    weights = [1.0] * len(target) if sample_weight is None else sample_weight.tolist()
    records = []
    for labels, probs, emb in _tasks(logits, target, embeddings):
        records += _anchor_records(labels, probs, emb, level, k, rho, weights)
    zero = logits.sum() * 0
    if comparison == "relative":
        terms = [
            (HINGE(margin + dp - dn), w)
            for d_pos, d_neg, w in records
            for dp in d_pos
            for dn in d_neg
        ]
        return _mean(terms, zero)
    if comparison == "absolute":
        pulled = [(dp**2, w) for d_pos, _, w in records for dp in d_pos]
        pushed = [
            (torch.relu(margin - dn) ** 2, w) for _, d_neg, w in records for dn in d_neg
        ]
        return 0.5 * (_mean(pulled, zero) + _mean(pushed, zero))
    taking_part = [(p, q, w) for p, q, w in records if p and q]
    if not taking_part:
        return zero
    lo, hi = (-1.0, 1.0) if level == "class" else (0.0, 2.0)
    h_pos = _histogram([(v, w) for p, _, w in taking_part for v in p], lo, hi, n_bins)
    h_neg = _histogram([(v, w) for _, q, w in taking_part for v in q], lo, hi, n_bins)
    return sum(h_pos[t] * sum(h_neg[: t + 1]) for t in range(n_bins))
