"""`drillbook serve`: the schedule, the job store, the child runs and the metrics of a long-running server."""
