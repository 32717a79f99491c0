"""Stage 3 of the pipeline: renderers, which read only the IR."""
