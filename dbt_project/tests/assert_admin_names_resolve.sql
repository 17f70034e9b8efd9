-- Warns with the place names that did not resolve to one DOPA code (unresolved or ambiguous; the
-- loosely resolved ones are listed in int_unresolved_admin_names for review but have a code), so
-- they show up in every build and as a Dagster asset check, never silently.
{{ config(severity='warn') }}

select
    source,
    level,
    name_text,
    status,
    records
from {{ ref('int_unresolved_admin_names') }}
where status in ('unresolved', 'ambiguous')
