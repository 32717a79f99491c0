"""Stage 3, examples: valid, realistic instances for every profile, built from the IR."""
