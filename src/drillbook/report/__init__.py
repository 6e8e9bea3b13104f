"""Renderers: HTML, Markdown (and later JUnit) from run records. They only read records."""
