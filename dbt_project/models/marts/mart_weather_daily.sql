{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='date',
        on_schema_change='fail',
        tags=['daily'],
    )
}}
-- Weather per day at the city centre (Open-Meteo): temperature min/mean/max, rainfall and mean
-- relative humidity. Open-Meteo's daily values are used; where one is missing it is computed
-- from that day's hourly values.
with

daily as (

    select * from {{ ref('stg_open_meteo_daily') }}
    where {{ in_window('date') }}

),

hourly as (

    select * from {{ ref('stg_open_meteo_hourly') }}
    where {{ in_window('observed_date') }}

),

hourly_by_day as (

    select
        observed_date as date,
        count(temperature_c) as hours_observed,
        min(temperature_c) as temperature_min_c,
        avg(temperature_c) as temperature_mean_c,
        max(temperature_c) as temperature_max_c,
        sum(precipitation_mm) as precipitation_mm,
        avg(relative_humidity_pct) as relative_humidity_mean_pct
    from hourly
    group by all

),

final as (

    select
        coalesce(daily.date, hourly_by_day.date) as date,
        round(coalesce(daily.temperature_min_c, hourly_by_day.temperature_min_c), 1) as temperature_min_c,
        round(coalesce(daily.temperature_mean_c, hourly_by_day.temperature_mean_c), 1) as temperature_mean_c,
        round(coalesce(daily.temperature_max_c, hourly_by_day.temperature_max_c), 1) as temperature_max_c,
        round(coalesce(daily.precipitation_mm, hourly_by_day.precipitation_mm), 1) as rainfall_mm,
        round(coalesce(daily.relative_humidity_mean_pct, hourly_by_day.relative_humidity_mean_pct), 1)
            as relative_humidity_mean_pct,
        cast(coalesce(hourly_by_day.hours_observed, 0) as integer) as hours_observed
    from daily
    full outer join hourly_by_day on daily.date = hourly_by_day.date

)

select * from final
order by date
