"""Importers: plans from what SAM, CloudFormation and CodeDeploy users already have."""
