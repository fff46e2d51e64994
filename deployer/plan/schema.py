"""The JSON Schema of the plan format, as `deployer schema` prints it and
configs/schema.json commits it (yaml-language-server reads that file)."""

from __future__ import annotations

import json
from typing import Any

from deployer.plan.model import ReleasePlan

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def plan_schema() -> dict[str, Any]:
    schema = ReleasePlan.model_json_schema(by_alias=True)
    return {"$schema": DIALECT, **schema}


def plan_schema_text() -> str:
    return json.dumps(plan_schema(), indent=2, sort_keys=True) + "\n"
