"""Argo CD sync planning and the sync state machine, as pure functions (no I/O)."""

from .options import SyncOptions
from .plan import Plan, ResourceKey, SyncSettings, Task, build_plan, prune_outcome, reconcile
from .state import (
    Batch,
    Observed,
    StepDecision,
    TaskResult,
    after_run,
    applied,
    next_step,
    pruned,
    record,
    terminate,
)

__all__ = [
    "Batch", "Observed", "Plan", "ResourceKey", "StepDecision", "SyncOptions", "SyncSettings", "Task", "TaskResult",
    "after_run", "applied", "build_plan", "next_step", "prune_outcome", "pruned", "reconcile", "record", "terminate",
]
