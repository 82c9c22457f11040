"""Every table model, imported in one place so the metadata (and Alembic) sees them all."""

from registry.audit.models import AuditEntry, AuditHead
from registry.auth.models import StaffUser

__all__ = ["AuditEntry", "AuditHead", "StaffUser"]
