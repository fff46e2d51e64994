"""Notification adapters (SNS)."""
