"""toobig: the replication of "Too Big to Think" (Barron and White, 2025)."""
__version__ = "0.1.0"
# Bump when a change alters what training writes (metrics.csv, best.pt): the pipeline re-runs every run.
TRAINING_VERSION = 1
