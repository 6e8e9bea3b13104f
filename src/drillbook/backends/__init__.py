"""The doors to the outside: restic (read-only), AWS (boto3), secret stores; the rest of drillbook uses no other."""
