"""The optimisers of a training run (SGD with momentum, Adam, AdamW) and its learning rate per
epoch, chosen by device in :func:`make_optimizer`.

Why not ``torch.optim`` on the CPU: every ``torch.optim`` optimiser imports torch's compiler
package (``torch._dynamo``) on its first method call (``add_param_group`` in the constructor,
``zero_grad``, ``step``, ``state_dict`` are wrapped to keep the compiler out of them). A CPU
training job compiles nothing, yet that import cost 1.5-1.9 s of its set-up here (measured:
first ``torch.optim.SGD`` call after ``import torch``, 2 cores), about as much as ``import
torch`` itself. So on the CPU the run uses :class:`Sgd` and :class:`Adam` (``decoupled`` for
AdamW): plain tensor code that performs, operation for operation, the single-tensor update
``torch.optim`` runs on the CPU (its default there: ``foreach`` and ``fused`` off), so the
parameters and the optimiser state are bit-identical to ``torch.optim``'s after every step
(``tests/test_optimizers.py``). Their ``state_dict`` has ``torch.optim``'s format (state by
parameter index, the groups with ``torch.optim``'s keys, ``step`` a float tensor), so a
checkpoint's optimiser state loads into either. On other devices (CUDA, MPS) the run uses
``torch.optim`` (its ``foreach`` kernels matter there; the import is noise next to a GPU job's
start).

:class:`EpochLr` sets each group's learning rate of epoch ``e`` to its base rate times
``factor(e)``, as ``torch.optim.lr_scheduler.LambdaLR`` computes it, for either kind of
optimiser (``LambdaLR`` needs a ``torch.optim.Optimizer``). Its state is the base rates and
the last epoch, the names ``LambdaLR`` gives them (a ``LambdaLR`` state loads into it).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["Adam", "EpochLr", "Optimizer", "ParamUpdate", "Sgd", "make_optimizer"]


def _scalar_dtype() -> torch.dtype:
    """The dtype of Adam's ``step`` counter, as torch.optim chooses it (CPU, not fused)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class ParamUpdate:
    """Parameter groups, per-parameter state and their ``state_dict`` as ``torch.optim`` keeps
    them; subclasses give the defaults (:attr:`DEFAULTS`, the order of torch.optim's) and the
    update of one parameter (:meth:`_update`)."""

    DEFAULTS: dict[str, Any] = {}
    #: Options this module does not implement: loading a state with another value is an error.
    FIXED: dict[str, Any] = {}

    def __init__(self, params: Iterable[Any], **options: Any) -> None:
        self.defaults = {**self.DEFAULTS, **options}
        self.state: dict[torch.Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self._add_group(dict(group))

    def _add_group(self, group: dict[str, Any]) -> None:
        group["params"] = list(group["params"])
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient (the others keep no state)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self._state_of(p, group), group)

    def _state_of(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return self.state.setdefault(p, {})

    def _update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{options..., "params": [index]}]}``,
        parameters numbered across the groups in order, as ``torch.optim`` saves it."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state of :meth:`state_dict`'s (or ``torch.optim``'s) format; ValueError when
        its groups or state do not fit these parameters or use an option not implemented."""
        saved = copy.deepcopy(state_dict["param_groups"])
        sizes = [len(g["params"]) for g in self.param_groups]
        if (got := [len(g["params"]) for g in saved]) != sizes:
            raise ValueError(f"optimizer state has groups of {got} parameters, not {sizes}")
        for group in saved:
            for name, value in self.FIXED.items():
                if group.get(name, value) != value:
                    raise ValueError(f"optimizer state has {name}={group[name]!r}: unsupported")
        params = dict(
            zip(
                itertools.chain.from_iterable(g["params"] for g in saved),
                itertools.chain.from_iterable(g["params"] for g in self.param_groups),
                strict=True,
            )
        )
        state: dict[torch.Tensor, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            p = params[key]
            state[p] = {name: _placed(p, name, value) for name, value in values.items()}
        for group, mine in zip(saved, self.param_groups, strict=True):
            group["params"] = mine["params"]
        self.state, self.param_groups = state, saved


def _placed(p: torch.Tensor, name: str, value: Any) -> Any:
    """A saved state value on ``p``'s device (and in its dtype, but the ``step`` counter), as
    ``torch.optim`` places it; ValueError when a buffer's shape differs from ``p``'s."""
    if not isinstance(value, torch.Tensor) or name == "step":
        return value
    if value.shape != p.shape:
        raise ValueError(f"optimizer state {name} has shape {tuple(value.shape)}, not {p.shape}")
    if p.is_floating_point():
        return value.to(dtype=p.dtype, device=p.device)
    return value.to(device=p.device)


class Sgd(ParamUpdate):
    """``torch.optim.SGD``'s CPU update (momentum, dampening, L2 weight decay; no Nesterov)."""

    DEFAULTS = {
        "lr": 1e-3,
        "momentum": 0,
        "dampening": 0,
        "weight_decay": 0,
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": None,
    }
    FIXED = {"nesterov": False, "maximize": False}

    def _state_of(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        # without momentum SGD keeps no state (torch.optim's ``state`` stays empty)
        return self.state.setdefault(p, {}) if group["momentum"] != 0 else {}

    def _update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = grad.detach().clone()
                state["momentum_buffer"] = buf
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = buf
        p.add_(grad, alpha=-group["lr"])


class Adam(ParamUpdate):
    """``torch.optim.Adam``'s CPU update (L2 weight decay), or ``torch.optim.AdamW``'s with
    ``decoupled=True`` (the weights shrink by ``lr * weight_decay`` before the step)."""

    DEFAULTS = {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0,
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "fused": None,
        "decoupled_weight_decay": False,
    }
    FIXED = {"amsgrad": False, "maximize": False}

    def __init__(self, params: Iterable[Any], *, decoupled: bool = False, **options: Any) -> None:
        self.decoupled = decoupled  # AdamW's state must not load into Adam, nor Adam's into AdamW
        self.FIXED = {**Adam.FIXED, "decoupled_weight_decay": decoupled}
        super().__init__(params, **options, decoupled_weight_decay=decoupled)

    def _update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if not state:
            state["step"] = torch.tensor(0.0, dtype=_scalar_dtype())
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        step_t += 1
        if weight_decay != 0:
            if self.decoupled:
                p.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(p, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = step_t.item()
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(group["eps"])
        p.addcdiv_(exp_avg, denom, value=-step_size)


#: What a run's optimiser is: this module's (CPU) or torch's (other devices).
Optimizer = ParamUpdate | torch.optim.Optimizer


def make_optimizer(
    kind: str, params: Any, *, lr: float, weight_decay: float, momentum: float
) -> Optimizer:
    """The optimiser ``kind`` (``adam``, ``adamw`` or ``sgd``) of ``params`` (parameters, or
    groups of them as dicts): this module's on the CPU, ``torch.optim``'s on other devices
    (the device of the first parameter decides)."""
    params = list(params)
    tensors = [t for g in params for t in (g["params"] if isinstance(g, dict) else [g])]
    on_cpu = not tensors or tensors[0].device.type == "cpu"
    if kind in ("adam", "adamw"):
        if on_cpu:
            return Adam(params, decoupled=kind == "adamw", lr=lr, weight_decay=weight_decay)
        cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
        return cls(params, lr=lr, weight_decay=weight_decay)
    if on_cpu:
        return Sgd(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


class EpochLr:
    """Each group's learning rate in epoch ``e`` (from 0): its base rate (the rate it was
    built with, kept as ``initial_lr`` in the group, as LambdaLR keeps it) times
    ``factor(e)``. Built before the first epoch, whose rates it sets; :meth:`step` after
    every epoch."""

    def __init__(self, optimizer: Optimizer, factor: Callable[[int], float]) -> None:
        self.optimizer, self.factor = optimizer, factor
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def step(self) -> None:
        """Set the rates of the next epoch."""
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base_lr * self.factor(self.last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """The base rates and the epoch whose rates are set."""
        return {"base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the state of :meth:`state_dict` (or of a LambdaLR; the rates themselves come
        with the optimiser's state)."""
        base_lrs = list(state_dict["base_lrs"])
        if len(base_lrs) != len(self.base_lrs):
            raise ValueError(
                f"scheduler state has {len(base_lrs)} groups, not {len(self.base_lrs)}"
            )
        self.base_lrs, self.last_epoch = base_lrs, int(state_dict["last_epoch"])
