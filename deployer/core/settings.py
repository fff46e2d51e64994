"""What every command is told about where to work: the run store, the AWS region,
profile and endpoint, and how to log (SPEC §3 "Common options"; filled by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STORE = "file://.deployer"


@dataclass(slots=True)
class Settings:
    store: str = DEFAULT_STORE
    store_given: bool = False   # --store or DEPLOYER_STORE (else the default may fall back)
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    log_format: str = "auto"
    verbosity: int = 0
