"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

Loading it reads the city config and the prepared dbt manifest; it never calls a source or parses
the dbt project (run `make prepare` first; `make`, CI and the test suite do).
"""

from city_pipeline.defs.build import build_definitions
from city_pipeline.settings import get_settings

defs = build_definitions(get_settings())
