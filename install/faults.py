"""What can go wrong while carrying out a plan, as the reports tell the cases apart."""

from __future__ import annotations

from scenarios.steps import Step


class EnvironmentFault(RuntimeError):
    """The environment, not Istio, is at fault: a precondition failed or no LoadBalancer address came.

    Reports file these apart from product failures (reports/categories.py).
    """


class StepFailed(RuntimeError):
    """A step failed; the message names the step, its role, action and seed, and the cause."""

    def __init__(self, step: Step, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        super().__init__(
            f"step {step.name!r} [{step.role}] ({step.action.value}, seed {step.seed}) failed: {cause}"
        )


class PlanError(ValueError):
    """A step lacks a parameter or holds a value the installer cannot act on (a renderer bug)."""
