"""Small helpers with one copy each (clock, atomic files, locks, /proc, processes, secret
scrubbing), so every caller agrees on what they mean."""
