"""One workspace per task."""
