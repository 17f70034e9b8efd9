"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

One city (`CITY_PIPELINE_CONFIG`, default Khon Kaen), or every city in `CITY_PIPELINE_CITIES_DIR`
under its slug (docs/scaling.md). Loading reads the city configs and the prepared dbt manifest; it
never calls a source or parses the dbt project (run `make prepare` first; `make`, CI and the test
suite do).
"""

import os

from city_pipeline.defs.build import build_definitions, build_deployment_definitions
from city_pipeline.settings import CITIES_DIR_ENV, get_settings, load_deployment

if os.environ.get(CITIES_DIR_ENV):
    defs = build_deployment_definitions(load_deployment())
else:
    defs = build_definitions(get_settings())
