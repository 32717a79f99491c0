"""Stage 3, diff: what changed between two versions of an IG, and whom it breaks."""
