"""Analyse: models over the marts (plain Python, free of Dagster; the assets wrap them)."""
