{{
    config(
        materialized='incremental',
        incremental_strategy='key_replace',
        unique_key='ticket_id',
        on_schema_change='fail',
    )
}}
-- Traffy Fondue complaints: the latest version of each ticket (raw keeps every state seen).
-- Timestamps are converted from UTC (+00) to Asia/Bangkok wall-clock time.
-- A table, so the window over every raw version runs once per build, not once per consumer.
-- Incremental: a run with a partition window recomputes only the tickets with a raw version in
-- the window, each from all its versions (key_replace); without a window, every ticket.
-- (The raw relation is named in each CTE that reads it, never as one shared CTE: DuckDB would
-- materialize a CTE read twice, every column of every version.)
{%- set only_changed = is_incremental() and window_bounds()[0] is not none %}
with

{% if only_changed -%}
changed as (

    {{ traffy_window_ticket_ids() }}

),

-- The raw spellings of the changed ids. A raw id without any whitespace character is its own
-- clean form, so it is matched as it is (DuckDB pushes that filter into the Parquet scan); the
-- rare ids with whitespace are cleaned first.
changed_raw_ids as (

    select ticket_id from changed
    union
    select ticket_id
    from {{ raw_source('traffy_tickets') }}
    where
        regexp_matches(ticket_id, '[\s\x{00A0}\x{200B}\x{FEFF}]')
        and {{ clean_text('ticket_id') }} in (select ticket_id from changed)

),

{% endif -%}
versions as (

    select * from {{ raw_source('traffy_tickets') }}
    {%- if only_changed %}
    where ticket_id in (select ticket_id from changed_raw_ids)
    {%- endif %}

),

-- Each ticket's latest version is picked on the few columns that rank the versions; the costly
-- text cleaning then runs on that one version per ticket, not on every version.
ranked as (

    select
        *,
        {{ clean_text('ticket_id') }} as ticket_key,
        {{ to_city_local_time('last_activity') }} as ranked_last_activity_at,
        {{ to_city_local_time('finished_at') }} as ranked_finished_at,
        {{ clean_text('state') }} as ranked_state,
        {{ clean_text('source_endpoint') }} as ranked_source_endpoint
    from versions
    where ticket_id is not null

),

latest as (

    select
        *,
        count(*) over (partition by ticket_key) as versions_seen
    from ranked
    qualify
        row_number() over (
            partition by ticket_key
            order by
                ranked_last_activity_at desc nulls last,
                date desc,
                ranked_finished_at desc nulls last,
                ranked_state asc,
                ranked_source_endpoint asc
        ) = 1

),

final as (

    select
        ticket_key as ticket_id,
        {{ clean_text('type') }} as complaint_type,
        list_sort(list_distinct(list_filter(
            list_transform(categories, lambda c: {{ clean_text('c') }}), lambda c: c is not null
        ))) as categories,
        list_filter(list_transform(org, lambda o: {{ clean_text('o') }}), lambda o: o is not null)
            as organisations,
        {{ clean_text('description') }} as description,
        {{ clean_text('address') }} as address,
        {{ clean_text('subdistrict') }} as subdistrict_name,
        {{ clean_text('district') }} as district_name,
        {{ clean_text('province') }} as province_name,
        lat,
        lon,
        ranked_state as state,
        {{ null_if_negative('star') }} as star,
        {{ null_if_negative('count_reopen') }} as count_reopen,
        {{ clean_text('photo_url') }} as photo_url,
        {{ clean_text('after_photo') }} as after_photo_url,
        {{ to_city_local_time('reported_at') }} as reported_at,
        ranked_last_activity_at as last_activity_at,
        {{ to_city_local_time('inprogress_at') }} as inprogress_at,
        ranked_finished_at as finished_at,
        ranked_source_endpoint as source_endpoint,
        date as snapshot_date,
        versions_seen
    from latest

)

select * from final
