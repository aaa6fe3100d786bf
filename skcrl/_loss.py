"""``L_crl``, the Class Rectification Loss of one batch (docs/spec.md §1-§7, §10,
§11), as a function: :func:`crl_loss`, and the batch mined with a memory."""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from ._cached import in_dtype, scalar
from ._checks import CRL_PARAMETER_DOCS, check_crl_parameters
from ._class_level import KnownGradient, class_level_crl
from ._distributed import gather_batch
from ._docstrings import with_docs
from ._instance_level import instance_level_crl
from ._memory import CRLMemory
from ._mining import n_anchor_slots

__all__ = ["crl_loss", "crl_with_memory"]


def _check_tensors(logits, target, embeddings, level) -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError("logits must be a floating-point torch.Tensor of shape (n, C).")
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (n, C), got {tuple(logits.shape)}.")
    n, n_outputs = logits.shape
    if not isinstance(target, Tensor):
        raise TypeError("target must be a torch.Tensor of shape (n,) or (n, J).")
    if target.device != logits.device:
        raise ValueError(
            f"target is on {target.device} but logits are on {logits.device}; "
            "move target to the device of logits."
        )
    if target.dim() == 1:
        if target.shape[0] != n:
            raise ValueError(
                f"target has {target.shape[0]} entries but logits have {n} rows."
            )
        if (
            target.is_floating_point()
            or target.is_complex()
            or target.dtype == torch.bool
        ):
            raise TypeError(
                "a 1-D (multi-class) target must hold integer class indices, "
                f"got dtype {target.dtype}."
            )
        if n_outputs < 2:
            raise ValueError(
                f"multi-class logits need at least 2 columns, got {n_outputs}."
            )
    elif target.dim() == 2:
        if tuple(target.shape) != (n, n_outputs):
            raise ValueError(
                f"a 2-D (multi-label) target must have the shape of logits "
                f"{tuple(logits.shape)}, got {tuple(target.shape)}."
            )
    else:
        raise ValueError(
            f"target must have shape (n,) or (n, J), got {tuple(target.shape)}."
        )
    if level != "instance":
        return
    if embeddings is None:
        raise ValueError(
            'level="instance" needs embeddings: pass embeddings=... (the module must '
            "return (logits, embeddings) from forward)."
        )
    if not isinstance(embeddings, Tensor) or not embeddings.is_floating_point():
        raise TypeError("embeddings must be a floating-point torch.Tensor.")
    shared = embeddings.dim() == 2 and embeddings.shape[0] == n
    per_attribute = (
        target.dim() == 2
        and embeddings.dim() == 3
        and tuple(embeddings.shape[:2]) == (n, n_outputs)
    )
    if not (shared or per_attribute):
        expected = "(n, D) or (n, J, D)" if target.dim() == 2 else "(n, D)"
        raise ValueError(
            f"embeddings must have shape {expected} with n={n}"
            + (f", J={n_outputs}" if target.dim() == 2 else "")
            + f"; got {tuple(embeddings.shape)}."
        )
    if embeddings.device != logits.device:
        raise ValueError(
            f"embeddings are on {embeddings.device} but logits are on "
            f"{logits.device}; keep them on one device."
        )


def _with_memory(logits, target, embeddings, weight, memory, level):
    """The batch with the memory's rows appended, detached (SPEC §11); sample
    weights of both, ones for the side that has none, when either has some."""
    if not isinstance(memory, (tuple, list)) or len(memory) not in (2, 3, 4):
        raise TypeError(
            "memory must be a tuple (logits, target), (logits, target, "
            "embeddings) or (logits, target, embeddings or None, weight) of "
            f"tensors, got {type(memory).__name__}."
        )
    held_logits, held_target = memory[0], memory[1]
    held_embeddings = memory[2] if len(memory) >= 3 else None
    held_weight = memory[3] if len(memory) == 4 else None
    for name, held in (("logits", held_logits), ("target", held_target)):
        if not isinstance(held, Tensor):
            raise TypeError(f"memory's {name} must be a torch.Tensor.")
    if held_logits.dim() != 2 or held_logits.shape[1] != logits.shape[1]:
        raise ValueError(
            f"memory's logits must have shape (m, {logits.shape[1]}) like the "
            f"batch's, got {tuple(held_logits.shape)}."
        )
    m = held_logits.shape[0]
    if tuple(held_target.shape) != (m, *target.shape[1:]):
        raise ValueError(
            f"memory's target must have shape {(m, *target.shape[1:])} for its {m} "
            f"rows, got {tuple(held_target.shape)}."
        )
    if held_logits.device != logits.device or held_target.device != logits.device:
        raise ValueError(
            f"memory is on {held_logits.device} but logits are on {logits.device}; "
            "keep the memory on the device of the logits."
        )
    if weight is not None or held_weight is not None:
        if held_weight is not None:
            _check_weight(held_weight, held_logits, "memory's weight")
        weight = torch.cat(
            (
                torch.ones_like(logits[:, 0]) if weight is None else weight,
                torch.ones_like(held_logits[:, 0])
                if held_weight is None
                else held_weight.to(logits.dtype),
            )
        )
    # the union is mined as constants (the gradient reaches the batch's rows
    # through their own tensors): no autograd graph for the concatenation
    logits = torch.cat((logits.detach(), held_logits.detach().to(logits.dtype)))
    target = torch.cat((target, held_target.to(target.dtype)))
    if level != "instance":
        return logits, target, embeddings, weight
    if held_embeddings is None:
        raise ValueError(
            'level="instance" mines embeddings: the memory must hold them too, '
            "as (logits, target, embeddings)."
        )
    if (
        not isinstance(held_embeddings, Tensor)
        or held_embeddings.shape[1:] != embeddings.shape[1:]
        or held_embeddings.shape[0] != m
        or held_embeddings.device != embeddings.device
    ):
        raise ValueError(
            f"memory's embeddings must have shape {(m, *embeddings.shape[1:])} on "
            f"{embeddings.device}, like the batch's."
        )
    embeddings = torch.cat(
        (embeddings.detach(), held_embeddings.detach().to(embeddings.dtype))
    )
    return logits, target, embeddings, weight


def _check_weight(weight, logits, name="sample_weight"):
    """Shape, dtype and device of sample weights (their values are the caller's
    to check: reading them would wait for the device)."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n,).")
    if weight.shape != logits.shape[:1]:
        raise ValueError(
            f"{name} must have shape ({logits.shape[0]},), one weight per row of "
            f"the logits, got {tuple(weight.shape)}."
        )
    if weight.device != logits.device:
        raise ValueError(
            f"{name} is on {weight.device} but logits are on {logits.device}."
        )
    if weight.is_complex() or weight.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {weight.dtype}.")


def _zero(logits: Tensor) -> Tensor:
    """A 0 that belongs to the autograd graph of ``logits`` (and is never NaN)."""
    return logits.flatten()[:0].sum()


@with_docs(crl_parameters=CRL_PARAMETER_DOCS)
def crl_loss(
    logits: Tensor,
    target: Tensor,
    *,
    embeddings: Tensor | None = None,
    level: str = "class",
    comparison: str = "relative",
    k: int = 25,
    margin: float = 0.5,
    rho: float = 0.5,
    n_bins: int = 32,
    mining: str = "local",
    memory: tuple[Tensor, ...] | None = None,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """Class Rectification Loss ``L_crl`` of one mini-batch (docs/spec.md §1-§4, §6).

    The batch's minority classes are those of smallest count that together hold at
    most ``rho * n`` samples; each with two samples or more is mined for hard
    positives and negatives, and the anchors of all of them (and of all attributes)
    are pooled into one loss. No cross-entropy and no ``alpha``: see
    :class:`ClassRectificationLoss` for the balanced loss.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, C) or (n, J)
        Raw scores. ``C >= 2`` classes for a multi-class target (softmax
        probabilities), ``J`` binary attributes for a multi-label target (sigmoid).
    target : torch.Tensor of shape (n,) or (n, J)
        Integer class indices in ``0..C-1`` (multi-class), or a 0/1 indicator
        matrix (multi-label), on the device of ``logits``.
    embeddings : torch.Tensor of shape (n, D) or (n, J, D), default=None
        Feature vectors, required when ``level="instance"`` and ignored otherwise.
        ``(n, J, D)`` gives each attribute its own embedding (multi-label only).
    %(crl_parameters)s
    memory : tuple of torch.Tensor, default=None
        ``(logits, target)``, or ``(logits, target, embeddings)`` at instance
        level, of ``m`` earlier training samples (SPEC §11). The loss is that of
        the batch followed by these rows, as if they were one batch of ``n + m``
        samples, with the memory rows constants: no gradient reaches them.
        :class:`ClassRectificationLoss` keeps such a memory for you
        (``memory_size=``). With sample weights it is ``(logits, target,
        embeddings or None, weight)``.
    sample_weight : torch.Tensor of shape (n,), default=None
        Non-negative weight of each sample (SPEC §10). A sample of weight 0 takes
        no part (weights in {0, 1} give the loss of the rows of weight 1); the
        others are counted and mined unweighted, and each triplet, pair or
        histogram entry weighs its anchor's weight in the means. The values are
        not checked here (that would wait for the device): the estimators check
        them in ``fit``.

    Returns
    -------
    loss : torch.Tensor
        0-dim tensor on the device and in the dtype of ``logits``. It is exactly 0,
        still attached to the autograd graph, when the batch has nothing to mine.

    Raises
    ------
    ValueError
        For an unknown ``level`` or ``comparison``, ``k < 1``, ``rho`` outside
        ``(0, 1]``, a negative ``margin``, ``n_bins < 2``, shapes that disagree,
        or missing embeddings at instance level.
    TypeError
        For a non-integer ``k``/``n_bins``, non-tensor inputs, or a floating-point
        multi-class target.

    Notes
    -----
    Vectorised over samples, classes and attributes, with no copy to the host.
    Time and memory grow with ``n * k`` at class level; instance level mines from
    cosine similarities computed in blocks of anchors.

    Examples
    --------
    Two samples of class 0 (probabilities of class 0: 0.9 and 0.6) and two of class
    1 (0.3 and 0.2). A 2/2 batch makes class 0 the minority; the four triplets give
    ``max(0, 0.5 + 0.3 - d-)`` for ``d-`` = 0.6, 0.7, 0.3, 0.4, mean 0.3:

    >>> import torch
    >>> from skcrl import crl_loss
    >>> p0 = torch.tensor([0.9, 0.6, 0.3, 0.2])
    >>> logits = torch.stack([p0, 1 - p0], dim=1).log()
    >>> crl_loss(logits, torch.tensor([0, 0, 1, 1]))
    tensor(0.3000)
    """
    params = dict(
        level=level,
        comparison=comparison,
        k=k,
        margin=margin,
        rho=rho,
        n_bins=n_bins,
        mining=mining,
    )
    check_crl_parameters("crl_loss", **params)
    return _crl_loss(
        logits,
        target,
        embeddings=embeddings,
        memory=memory,
        sample_weight=sample_weight,
        **params,
    )


def _working_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the loss computes in: the inputs' own, float32 for a half
    precision. Its sums and means run over up to k * k triplets per anchor,
    hundreds of thousands in a large batch, beyond float16's largest number
    (65504), and bfloat16 rounds them; PyTorch's autocast runs its own losses
    in float32 for the same reason. The loss and its gradients return in the
    inputs' dtype."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _in_own_dtype(device: torch.device):
    """A context without autocast, if it is on: the closed-form loss and
    gradients compute in the dtype of their inputs (autocast would run its
    products in half precision)."""
    try:
        enabled = torch.is_autocast_enabled(device.type)
    except TypeError:  # torch < 2.4
        enabled = (
            torch.is_autocast_cpu_enabled()
            if device.type == "cpu"
            else torch.is_autocast_enabled()
        )
    except RuntimeError:  # a device type without autocast ("meta"): none is on
        enabled = False
    if enabled:
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def _out_of_inference_mode(tensor: Tensor) -> Tensor:
    """A normal tensor of a tensor that may have been made in inference mode
    (which could not be saved for backward by what the caller does next)."""
    return tensor.clone() if tensor.is_inference() else tensor


def _crl_loss(
    logits,
    target,
    *,
    embeddings=None,
    memory=None,
    sample_weight=None,
    level,
    comparison,
    k,
    margin,
    rho,
    n_bins,
    mining="local",
):
    """:func:`crl_loss` with its hyper-parameters already checked."""
    _check_tensors(logits, target, embeddings, level)
    weight = sample_weight
    if weight is not None:
        _check_weight(weight, logits)
        weight = in_dtype(weight.detach(), _working_dtype(logits.dtype))
    if mining == "global":
        logits, target, embeddings, weight = gather_batch(
            logits, target, embeddings, weight
        )
    batch_logits, batch_embeddings = logits, embeddings
    if memory is not None:
        logits, target, embeddings, weight = _with_memory(
            logits, target, embeddings, weight, memory, level
        )
    n = logits.shape[0]
    n_slots = n_anchor_slots(n, rho)
    if n_slots == 0:
        return _zero(batch_logits)
    if level == "class":
        with_gradient = batch_logits.requires_grad and torch.is_grad_enabled()
        # Inference mode: the closed form needs no autograd bookkeeping at all,
        # and each of its few dozen operations dispatches faster without it
        # (about 13 % of the class level's time on the CPU). KnownGradient makes
        # the loss a node of the graph and keeps the gradient, a constant, as it
        # is; without a gradient the loss is copied out.
        with torch.inference_mode(), _in_own_dtype(logits.device):
            loss, grad = class_level_crl(
                # (inference mode records nothing: no detach needed)
                in_dtype(logits, _working_dtype(logits.dtype)),
                target,
                comparison=comparison,
                k=k,
                margin=margin,
                rho=rho,
                n_bins=n_bins,
                with_gradient=with_gradient,
                weight=weight,
            )
            if with_gradient and grad.shape[0] != batch_logits.shape[0]:
                grad = grad[: batch_logits.shape[0]]  # the memory's rows get none
        loss = in_dtype(loss, batch_logits.dtype)
        if not with_gradient:
            return _out_of_inference_mode(loss)
        # KnownGradient's output is a new tensor, out of inference mode
        return KnownGradient.apply(
            loss, batch_logits, in_dtype(grad, batch_logits.dtype)
        )

    with_gradient = batch_embeddings.requires_grad and torch.is_grad_enabled()
    with torch.no_grad(), _in_own_dtype(embeddings.device):
        loss, grad = instance_level_crl(
            logits,
            target,
            in_dtype(embeddings.detach(), _working_dtype(embeddings.dtype)),
            comparison=comparison,
            k=k,
            margin=margin,
            rho=rho,
            n_bins=n_bins,
            with_gradient=with_gradient,
            weight=weight,
        )
    loss = in_dtype(loss, batch_embeddings.dtype)
    # The loss stays in the graph of the logits, as at class level, with a
    # zero gradient (a view of a cached 0 until the backward pass)
    if with_gradient:
        batch_rows = batch_logits.shape[0]
        zero = scalar(0.0, batch_logits.dtype, batch_logits.device)
        return KnownGradient.apply(
            loss,
            batch_embeddings,
            in_dtype(grad[:batch_rows], batch_embeddings.dtype),
            batch_logits,
            zero.expand_as(batch_logits),
        )
    return loss + _zero(batch_logits)


def crl_with_memory(
    memory: CRLMemory | None,
    logits: Tensor,
    target: Tensor,
    embeddings: Tensor | None = None,
    *,
    sample_weight: Tensor | None = None,
    checked: bool = False,
    push: bool = True,
    **params,
) -> Tensor:
    """``L_crl`` of a training batch mined together with ``memory``'s rows, then
    the batch's rows put into the memory (SPEC §11; ``push=False`` stages them
    for ``memory.commit()`` at the end of the step); the batch alone when
    ``memory`` is None. ``params`` are
    :func:`crl_loss`'s hyper-parameters; ``checked=True`` skips their validation
    (an estimator validates them once in ``fit``, not in every batch)."""
    loss = _crl_loss if checked else crl_loss
    if params.get("mining") == "global":
        # the memory holds the global batch (SPEC §11)
        logits, target, embeddings, sample_weight = gather_batch(
            logits, target, embeddings, sample_weight
        )
        params = {**params, "mining": "local"}
    crl = loss(
        logits,
        target,
        embeddings=embeddings,
        memory=None if memory is None else memory.contents(),
        sample_weight=sample_weight,
        **params,
    )
    if memory is not None:
        instance = params.get("level") == "instance"
        put = memory.push if push else memory.stage
        put(logits, target, embeddings if instance else None, sample_weight)
    return crl
