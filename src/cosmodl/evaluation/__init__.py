"""Metrics and no-learning baselines (numpy only, so they are easy to check by hand)."""
