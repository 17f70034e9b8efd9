"""Consume: validate the marts with Great Expectations, scrub personal data, publish a release.

    catalog.py      what is published (titles TH/EN, grain, free-text columns, row bounds)
    warehouse.py    read a mart from the warehouse, read-only
    privacy.py      Thai national ID / phone / e-mail / titled name / plate scrubbing -> [ID]
                    [PHONE] [EMAIL] [NAME] [PLATE]; control characters out of all text
    validation.py   run expectations/<mart>.json (GX Core 1.x) on the table as published
    gx_pii.py       the custom GX expectation for national IDs (mod-11 check digit)
    release.py      published/releases/<id>/ written aside, `current` switched atomically
    datapackage.py  the release's Frictionless datapackage.json
    freshness.py    data freshness per source for the report
    demo.py         a seeded demo warehouse with every mart (tests, report previews)

No Dagster here: `city_pipeline/defs/consume.py` wires these into checks and assets.
"""
