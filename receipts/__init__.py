"""Receipts an auditor verifies offline, with nothing but `cryptography` and `rfc8785`.

This package must never import the orchestrator (dsr, connectors, flows, scanners), Prefect,
SQLAlchemy, Presidio or boto3: an auditor installs it alone.
"""
