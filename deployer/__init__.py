"""deployer: progressive delivery for AWS Lambda aliases and ALB-fronted ECS services."""

import os

__version__ = "0.1.0"

# pydantic scans every installed distribution's entry points for plugins the first
# time a model is built (~25 ms, a tenth of `deployer validate`); deployer uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
