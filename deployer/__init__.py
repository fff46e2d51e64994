"""deployer: progressive delivery for AWS Lambda aliases and ALB-fronted ECS services."""

__version__ = "0.1.0"
