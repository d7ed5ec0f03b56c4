"""django-q2 scheduled task (created by migration): the ledger audit, read-only."""

import logging

from apps.payments.audit import ledger_audit

logger = logging.getLogger(__name__)


def audit_ledger() -> int:
    problems = ledger_audit()
    for problem in problems:
        logger.error("ledger audit: %s", problem)
    return len(problems)
