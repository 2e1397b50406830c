"""Loss balancing and gradient combination for multi-task training.

A method is a factory returning a :class:`Balancer`: a name and two pure functions,
``init(num_tasks) -> state`` and ``update(*, losses, gradients=None, state) ->
(BalanceResult, state)``, graph-safe so the trainer can call ``update`` inside its
compiled step. Loss-level methods (``fixed``, ``uncertainty``, ``dwa``, ``rlw``) only
read the losses; ``gradnorm`` and the gradient-level methods (``pcgrad``, ``cagrad``,
``mgda``, ``nash_mtl``, ``aligned_mtl``, ``imtl``) also read the ``[T, P]`` per-task
gradients of the shared parameters. Wrappers add cross-cutting options::

    import mtlflow.balance as balance

    balancer = balance.every_k_steps(balance.nash_mtl(), k=5)
    holder = balance.StateVariables(balancer.init(num_tasks=3))
    result, new_state = balancer.update(losses=losses, gradients=gradients, state=holder.value())
    holder.assign(new_state)

Methods are also available by name: ``balance.create("cagrad", c=0.5)``.
"""

from mtlflow.balance.aligned_mtl import aligned_mtl
from mtlflow.balance.base import BalanceResult, Balancer, EmptyState, StateVariables
from mtlflow.balance.cagrad import cagrad
from mtlflow.balance.diagnostics import conflict, cosine_matrix, norm_ratios
from mtlflow.balance.dwa import dwa
from mtlflow.balance.every_k_steps import every_k_steps
from mtlflow.balance.fixed import fixed
from mtlflow.balance.gradnorm import gradnorm
from mtlflow.balance.imtl import imtl
from mtlflow.balance.mgda import mgda
from mtlflow.balance.nash_mtl import nash_mtl
from mtlflow.balance.normalize_gradients import normalize_gradients
from mtlflow.balance.pcgrad import pcgrad
from mtlflow.balance.registry import BALANCERS, WRAPPERS, create, from_config, get_config
from mtlflow.balance.rlw import rlw
from mtlflow.balance.scale_weights import scale_weights
from mtlflow.balance.uncertainty import uncertainty

__all__ = [
    "BALANCERS",
    "WRAPPERS",
    "BalanceResult",
    "Balancer",
    "EmptyState",
    "StateVariables",
    "aligned_mtl",
    "cagrad",
    "conflict",
    "cosine_matrix",
    "create",
    "dwa",
    "every_k_steps",
    "fixed",
    "from_config",
    "get_config",
    "gradnorm",
    "imtl",
    "mgda",
    "nash_mtl",
    "norm_ratios",
    "normalize_gradients",
    "pcgrad",
    "rlw",
    "scale_weights",
    "uncertainty",
]
