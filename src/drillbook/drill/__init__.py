"""One drill from plan to record: the engine's phase table, and what it needs (batch, record, selection, content check)."""
