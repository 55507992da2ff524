"""Connectors: one module per kind of store, one protocol (connectors.base), one registry."""
