"""Consent and event-media registry."""

__version__ = "0.1.0"
