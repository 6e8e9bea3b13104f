"""The privilege boundary: every process that touches a restored tree runs in the sandbox's
namespaces, as its account."""
