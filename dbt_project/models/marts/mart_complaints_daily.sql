{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='date',
        on_schema_change='fail',
        tags=['daily'],
    )
}}
-- Traffy complaints per day, district and category: opened, resolved, backlog at the end of the
-- day, median resolution hours. A ticket with several categories counts once in each.
with

complaints as (

    select * from {{ ref('fct_complaints') }}

),

areas as (

    select * from {{ ref('int_admin_areas') }}
    where level = 'district'

),

by_category as (

    select
        ticket_id,
        district_code,
        unnest(categories) as category,
        opened_date,
        closed_date,
        is_resolved,
        resolution_hours
    from complaints

),

daily as (

    {{ complaints_daily('by_category', ['district_code', 'category']) }}

),

final as (

    select
        daily.date,
        daily.district_code,
        areas.name_th as district_name_th,
        areas.name_en as district_name_en,
        daily.category,
        daily.opened,
        daily.resolved,
        daily.backlog_end_of_day,
        daily.median_resolution_hours
    from daily
    left join areas on daily.district_code = areas.admin_code

)

select * from final
order by date, district_code nulls last, category
