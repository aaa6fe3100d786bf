"""Property-based tests (hypothesis): over generated small problems the estimators
end in a working model or in a clear error before training; the loss is finite for
finite input in every dtype and does not depend on the order of the batch or the
names of the classes."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from skcrl import CRLClassifier, CRLMultiLabelClassifier, crl_loss

PROBLEMS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def problems(draw, multilabel):
    n = draw(st.integers(1, 70))
    n_features = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)) * draw(st.sampled_from([1e-6, 1.0, 1e6]))
    if draw(st.booleans()):
        X[:, 0] = 3.0  # a constant feature
    if n > 2 and draw(st.booleans()):
        X[1] = X[0]  # a duplicated row
    if draw(st.booleans()):
        with np.errstate(over="ignore"):  # 1e6 overflows float16: refused as inf
            X = X.astype(draw(st.sampled_from([np.float16, np.float32, np.int64])))
    if draw(st.integers(0, 9)) == 9:  # hypothesis favours 0: NaN stays rare
        X = X.astype(float)
        X[rng.integers(n), rng.integers(n_features)] = np.nan
    if multilabel:
        J = draw(st.integers(1, 5))
        y = (rng.random((n, J)) < draw(st.floats(0.05, 0.5))).astype(int)
    else:
        C = draw(st.integers(1, 5))
        codes = rng.integers(0, C, size=n)
        if n > 3 and draw(st.booleans()):
            codes[0] = C  # a class with a single sample
        kind = draw(st.sampled_from(["int", "str", "object", "int", "str", "mixed"]))
        y = {
            "int": codes,
            "str": np.array([f"class {c}" for c in codes]),
            "object": np.array([f"c{c}" for c in codes], dtype=object),
            "mixed": np.array([c if c % 2 else f"c{c}" for c in codes], dtype=object),
        }[kind]
    hyper = dict(
        level=draw(st.sampled_from(["class", "instance"])),
        comparison=draw(st.sampled_from(["relative", "absolute", "distribution"])),
        k=draw(st.integers(1, 30)),
        rho=draw(st.floats(0.05, 1.0)),
        memory_size=draw(st.sampled_from([0, 16])),
        batch_size=draw(st.sampled_from([4, 16, 128])),
    )
    return X, y, hyper


def _fit_or_refuse(estimator, X, y):
    """The fitted estimator, or None when it refused the problem before training."""
    try:
        estimator.fit(X, y)
    except (ValueError, TypeError) as error:
        # refused before training: no epoch ran
        assert not getattr(estimator, "history_", None)
        event(f"refused: {str(error)[:40]}")
        return None
    event("fitted")
    return estimator


# scikit-learn's finiteness check of an input holding NaN warns while it looks
NAN_CHECK = pytest.mark.filterwarnings(
    "ignore:invalid value encountered:RuntimeWarning"
)


@NAN_CHECK
@PROBLEMS
@given(problems(multilabel=False))
def test_classifier_works_or_refuses_before_training(problem):
    X, y, hyper = problem
    clf = _fit_or_refuse(CRLClassifier(max_epochs=2, random_state=0, **hyper), X, y)
    if clf is None:
        return
    proba = clf.predict_proba(np.nan_to_num(X).astype(np.float32))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(clf.predict(np.nan_to_num(X).astype(np.float32))) <= set(clf.classes_)


@NAN_CHECK
@PROBLEMS
@given(problems(multilabel=True))
def test_multilabel_works_or_refuses_before_training(problem):
    X, Y, hyper = problem
    clf = CRLMultiLabelClassifier(max_epochs=2, random_state=0, **hyper)
    clf = _fit_or_refuse(clf, X, Y)
    if clf is None:
        return
    proba = clf.predict_proba(np.nan_to_num(X).astype(np.float32))
    assert np.isfinite(proba).all() and ((proba >= 0) & (proba <= 1)).all()
    assert set(np.unique(clf.predict(np.nan_to_num(X).astype(np.float32)))) <= {0, 1}


# -- the loss ---------------------------------------------------------------------

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


@st.composite
def batches(draw):
    n = draw(st.integers(2, 48))
    C = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    multilabel = draw(st.booleans())
    if multilabel:
        target = (torch.rand(n, C, generator=generator) < 0.3).long()
    else:
        target = torch.randint(0, C, (n,), generator=generator)
    logits = torch.randn(n, C, generator=generator) * draw(st.sampled_from([0.1, 3.0]))
    embeddings = torch.randn(n, 4, generator=generator)
    hyper = dict(
        level=draw(st.sampled_from(["class", "instance"])),
        comparison=draw(st.sampled_from(["relative", "absolute", "distribution"])),
        k=draw(st.integers(1, 10)),
        rho=draw(st.floats(0.1, 1.0)),
    )
    return logits, target, embeddings, hyper


LOSSES = settings(max_examples=60, deadline=None, derandomize=True)


@LOSSES
@given(batches(), st.sampled_from(DTYPES))
def test_loss_and_gradients_are_finite_in_every_dtype(batch, dtype):
    logits, target, embeddings, hyper = batch
    logits = logits.to(dtype).requires_grad_(True)
    embeddings = embeddings.to(dtype).requires_grad_(True)
    loss = crl_loss(logits, target, embeddings=embeddings, **hyper)
    assert loss.dtype == dtype and torch.isfinite(loss)
    loss.backward()
    for grad in (logits.grad, embeddings.grad):
        # None: nothing reached that input (nothing mined, or the other level)
        assert grad is None or torch.isfinite(grad).all()


@LOSSES
@given(batches(), st.integers(0, 2**16))
def test_loss_does_not_depend_on_the_order_of_the_batch(batch, seed):
    logits, target, embeddings, hyper = batch
    logits, embeddings = logits.double(), embeddings.double()
    order = torch.randperm(len(target), generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(
        crl_loss(logits[order], target[order], embeddings=embeddings[order], **hyper),
        crl_loss(logits, target, embeddings=embeddings, **hyper),
    )


@LOSSES
@given(batches(), st.integers(0, 2**16))
def test_loss_does_not_depend_on_the_names_of_the_classes(batch, seed):
    logits, target, embeddings, hyper = batch
    logits, embeddings = logits.double(), embeddings.double()
    C = logits.shape[1]
    if target.dim() == 1:
        counts = torch.bincount(target, minlength=C)
        present = counts[counts > 0]
        # SPEC §1 breaks ties between equal counts by class id
        if len(present.unique()) < len(present):
            return
    rename = torch.randperm(C, generator=torch.Generator().manual_seed(seed))
    if target.dim() == 1:
        renamed = rename[target]
        renamed_logits = torch.empty_like(logits)
        renamed_logits[:, rename] = logits
    else:  # attributes: a permutation of the columns
        renamed, renamed_logits = target[:, rename], logits[:, rename]
    torch.testing.assert_close(
        crl_loss(renamed_logits, renamed, embeddings=embeddings, **hyper),
        crl_loss(logits, target, embeddings=embeddings, **hyper),
    )


def test_the_loss_under_cpu_autocast_bf16():
    torch.manual_seed(0)
    logits = torch.randn(64, 4, requires_grad=True)
    target = torch.tensor([0] * 40 + [1] * 14 + [2] * 6 + [3] * 4)
    weight = torch.randn(4, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores = logits @ weight  # bf16 under autocast
        assert scores.dtype == torch.bfloat16
        loss = crl_loss(scores, target)
    reference = crl_loss((logits @ weight).detach(), target)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(reference.item(), abs=0.05)
    loss.backward()
    assert torch.isfinite(weight.grad).all()


HALF = [torch.float16, torch.bfloat16]


def _loss_and_gradient(logits, target, embeddings, **hyper):
    logits = logits.detach().clone().requires_grad_()
    embeddings = embeddings.detach().clone().requires_grad_()
    loss = crl_loss(logits, target, embeddings=embeddings, **hyper)
    loss.backward()
    grad = logits.grad if hyper["level"] == "class" else embeddings.grad
    return loss.detach().double(), grad.double()


def _large_batch(seed, n, multi_label):
    """A long-tailed float64 batch of ``n`` samples: logits, target, embeddings
    and the generator that drew them."""
    generator = torch.Generator().manual_seed(seed)
    if multi_label:
        rates = torch.tensor([0.4, 0.1, 0.03])
        target = (torch.rand(n, 3, generator=generator) < rates).double()
    else:
        rates = torch.tensor([0.5, 0.3, 0.15, 0.05])
        target = torch.multinomial(rates, n, replacement=True, generator=generator)
    logits = torch.randn(n, len(rates), generator=generator, dtype=torch.float64)
    embeddings = torch.randn(n, 6, generator=generator, dtype=torch.float64)
    return logits, target, embeddings, generator


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("comparison", ["relative", "absolute", "distribution"])
@pytest.mark.parametrize("level", ["class", "instance"])
def test_half_precision_matches_float64_of_the_same_inputs(
    level, comparison, multi_label, dtype
):
    # 600 samples: counts and (count, class) keys beyond 256 (bfloat16's exact
    # integers), triplets beyond 65504 (float16's largest number)
    logits, target, embeddings, _ = _large_batch(1, 600, multi_label)
    logits, embeddings = logits.to(dtype), embeddings.to(dtype)
    hyper = dict(level=level, comparison=comparison)
    loss, grad = _loss_and_gradient(logits, target, embeddings, **hyper)
    loss64, grad64 = _loss_and_gradient(
        logits.double(), target, embeddings.double(), **hyper
    )
    assert loss64 > 0
    # the half-precision results rounded once, at the end (bfloat16 keeps 8
    # significant bits: 0.4% per rounding)
    assert loss.item() == pytest.approx(loss64.item(), rel=1e-2)
    assert (grad - grad64).norm() <= 1e-2 * grad64.norm()


@pytest.mark.parametrize("dtype", HALF)
def test_minority_keys_that_would_tie_in_half_precision(dtype):
    # counts 500, 300, 300 of 1100, rho n = 550: (count, class) keys 3 h + c of
    # classes 1 and 2 are 901 and 902, one number in bfloat16 (steps of 4 there).
    # Class 1 comes first (SPEC §1) and is the minority; tied keys would put both
    # classes' counts before each other, 600 > 550, and mine nothing.
    target = torch.tensor([0] * 500 + [1] * 300 + [2] * 300)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(len(target), 3, generator=generator)
    embeddings = torch.randn(len(target), 4, generator=generator)
    for level in ("class", "instance"):
        logits_half, embeddings_half = logits.to(dtype), embeddings.to(dtype)
        exact = crl_loss(
            logits_half.double(),
            target,
            level=level,
            embeddings=embeddings_half.double(),
        )
        half = crl_loss(logits_half, target, level=level, embeddings=embeddings_half)
        assert exact > 0.5
        assert half.item() == pytest.approx(exact.item(), rel=1e-2)


@pytest.mark.parametrize("many_columns", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("comparison", ["relative", "absolute", "distribution"])
def test_counts_in_int64_give_the_same_loss(
    monkeypatch, comparison, multi_label, weighted, many_columns
):
    # SPEC §1's counts and keys go to int64 where the logits' dtype would round
    # the largest key (skcrl._class_lists.counting_dtype); forced here on a
    # batch where float64 holds them exactly, both give the same loss
    if many_columns:
        monkeypatch.setattr("skcrl._gates.MANY_COLUMNS", 0)
    n = 300
    logits, target, embeddings, generator = _large_batch(3, n, multi_label)
    weight = (
        torch.rand(n, generator=generator, dtype=torch.float64) if weighted else None
    )
    hyper = dict(level="class", comparison=comparison, sample_weight=weight)
    floats = _loss_and_gradient(logits, target, embeddings, **hyper)
    monkeypatch.setattr("skcrl._class_lists._EXACT_INTEGERS", {})
    integers = _loss_and_gradient(logits, target, embeddings, **hyper)
    torch.testing.assert_close(integers, floats, rtol=1e-12, atol=1e-12)
