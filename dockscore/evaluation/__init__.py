"""Evaluation: metrics (one function per power) and the `dockscore benchmark` runner."""
