"""Tamper-evident evidence: the signed hash-chained ledger, offline verification, export, period reports."""
