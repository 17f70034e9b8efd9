-- Warns about Traffy states that are not in the traffy_states seed (they count as state_group
-- "other" and never as resolved until the seed learns them).
{{ config(severity='warn') }}

select
    state,
    count(*) as tickets
from {{ ref('fct_complaints') }}
where state_group = 'other'
group by state
