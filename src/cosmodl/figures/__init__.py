"""What every stage's figures share (matplotlib, Agg backend, PNG): saving, training curves, stale files.

A stage draws its own figures in ``cosmodl.<stage>.figures``."""
