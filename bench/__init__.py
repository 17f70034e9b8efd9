"""City-scale benchmark of the platform: `python -m bench --size S|M|L` (docs/performance.md)."""
