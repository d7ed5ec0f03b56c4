"""django-q2 scheduled task (created by migration): the ledger audit, read-only."""

from apps.payments.audit import ledger_audit_report


def audit_ledger() -> int:
    """The number of problems; any is logged at ERROR naming the rows, and kept for the metrics."""
    return len(ledger_audit_report())
