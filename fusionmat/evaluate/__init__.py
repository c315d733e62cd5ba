"""Scoring mattes against ground truth: the standard metrics and the HTML report."""
