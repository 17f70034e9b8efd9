"""The network hub: verified copies of member cities' releases, compared in network marts.

config.py (the network YAML), members.py (fetch + sha256 verification), marts.py (DuckDB network
marts), catalog.py (their specs), release.py (the atomic network release), report.py (the
Thai/English page), hub.py (one run). See docs/network.md.
"""
