"""One drill from plan to record: the engine's phase table and what it needs (batch, record,
snapshot selection, the content check)."""
