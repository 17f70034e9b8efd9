"""The thin Dagster layer: capture, curate, consume and automation definitions."""
