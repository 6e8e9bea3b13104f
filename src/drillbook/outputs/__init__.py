"""What a finished run leaves behind, in one pipeline: notifications, run.json, reports, index, WORM copy, seal."""
