"""The error hierarchy and the exit codes of SPEC §4.

Adapters translate AWS errors into these with `raise ... from exc`; the CLI
catches `DeployerError` once and prints what happened, where, and what to do.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    SUCCEEDED = 0
    UNEXPECTED = 1
    INVALID = 2
    ROLLED_BACK = 3
    ABORTED = 4
    REFUSED = 5
    UNSAFE = 6


class DeployerError(Exception):
    """Base of every error the CLI knows how to explain."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class PlanError(DeployerError):
    """The release plan (or a --set override) is invalid; `problems` holds every line."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class UsageError(DeployerError):
    exit_code = ExitCode.INVALID


class PreflightError(DeployerError):
    """Something AWS reports makes the run unsafe to start; nothing was changed."""

    exit_code = ExitCode.REFUSED


class LockHeld(DeployerError):
    exit_code = ExitCode.REFUSED


class TargetError(DeployerError):
    """An AWS call on the traffic resource failed after retries."""

    exit_code = ExitCode.UNEXPECTED


class CheckFailed(DeployerError):
    """A check cannot be evaluated (e.g. an alarm vanished) or reports failure."""

    exit_code = ExitCode.ROLLED_BACK


class NewVersionUnhealthy(CheckFailed):
    """The new version never became ready for traffic (tasks unhealthy, provisioned
    concurrency failed): a bad release, rolled back like an alarm."""


class Drift(DeployerError):
    """Someone else changed the traffic weights while the run owned them."""

    exit_code = ExitCode.UNSAFE


class StoreError(DeployerError):
    """The run store is unreadable, corrupt or unreachable."""

    exit_code = ExitCode.UNEXPECTED
