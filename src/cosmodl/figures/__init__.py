"""Figures of the stages (matplotlib, Agg backend, PNG)."""
