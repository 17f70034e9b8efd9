{{
    config(
        materialized='incremental',
        incremental_strategy='key_replace',
        unique_key='ticket_id',
        on_schema_change='fail',
    )
}}
-- depends_on: {{ source('raw', 'traffy_tickets') }}
-- One row per Traffy Fondue ticket in its latest known state, with DOPA codes resolved from the
-- free-text district and subdistrict, and how long it took to resolve. Coordinates outside
-- Thailand are NULLed and flagged (the row stays); over-long free text is cut and flagged
-- (macros/plausibility.sql).
-- Incremental: a run with a partition window rebuilds the rows of the tickets with a raw version
-- in the window (stg_traffy_tickets has just recomputed them from all their versions); without
-- a window, every row (key_replace).
with

tickets as (

    select * from {{ ref('stg_traffy_tickets') }}
    {%- if is_incremental() and window_bounds()[0] is not none %}
    where ticket_id in ({{ traffy_window_ticket_ids() }})
    {%- endif %}

),

states as (

    select * from {{ ref('traffy_states') }}

),

resolution as (

    select * from {{ ref('int_admin_name_resolution') }}
    where source = 'traffy_tickets'

),

joined as (

    select
        tickets.*,
        coalesce(states.state_group, 'other') as state_group,
        coalesce(states.is_resolved, false) as is_resolved,
        resolution.province_code,
        resolution.district_code,
        resolution.subdistrict_code
    from tickets
    left join states on tickets.state = states.state
    left join resolution
        on tickets.province_name is not distinct from resolution.province_name
        and tickets.district_name is not distinct from resolution.district_name
        and tickets.subdistrict_name is not distinct from resolution.subdistrict_name

),

final as (

    select
        ticket_id,
        complaint_type,
        case when coalesce(len(categories), 0) = 0 then ['ไม่ระบุ'] else categories end as categories,
        organisations,
        state,
        state_group,
        is_resolved,
        reported_at as opened_at,
        case when is_resolved then coalesce(finished_at, last_activity_at) end as closed_at,
        cast(reported_at as date) as opened_date,
        cast(case when is_resolved then coalesce(finished_at, last_activity_at) end as date) as closed_date,
        round(
            date_diff('second', reported_at, case when is_resolved then coalesce(finished_at, last_activity_at) end)
            / 3600.0,
            2
        ) as resolution_hours,
        inprogress_at,
        last_activity_at,
        province_code,
        district_code,
        subdistrict_code,
        province_name,
        district_name,
        subdistrict_name,
        district_code is not null as is_district_resolved,
        {{ coordinate_in_bounds('lat', 'lat', 'lon') }} as lat,
        {{ coordinate_in_bounds('lon', 'lat', 'lon') }} as lon,
        {{ coordinates_out_of_bounds('lat', 'lon') }} as coordinates_out_of_bounds,
        {{ capped_text('address', max_text_chars('address')) }} as address,
        {{ text_truncated('address', max_text_chars('address')) }} as address_truncated,
        {{ capped_text('description', max_text_chars('description')) }} as description,
        {{ text_truncated('description', max_text_chars('description')) }} as description_truncated,
        star,
        count_reopen,
        photo_url,
        after_photo_url,
        source_endpoint,
        versions_seen,
        snapshot_date as last_seen_date
    from joined

)

select * from final
order by ticket_id
