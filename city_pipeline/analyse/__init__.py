"""Analyse: models over the curated marts (forecasts, anomaly flags), between Curate and Consume.

Plain Python and scikit-learn, free of Dagster (like `sources/`); `defs/analyse.py` turns these
functions into assets. Models are stored with skops, never pickle (`store.py`).
"""
