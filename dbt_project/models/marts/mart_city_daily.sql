{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='date',
        on_schema_change='fail',
        tags=['daily'],
    )
}}
-- The executive dashboard row: one row per day for the whole city. Air quality across the
-- city's stations, complaints (each ticket once) and the weather.
with

air as (

    select * from {{ ref('mart_air_quality_daily') }}
    where {{ in_window('date') }}

),

weather as (

    select * from {{ ref('mart_weather_daily') }}
    where {{ in_window('date') }}

),

complaints as (

    select * from {{ ref('fct_complaints') }}

),

stations as (

    select * from {{ ref('dim_air_station') }}

),

days as (

    {{ window_days(
        "(select min(d) from (select min(date) as d from air union all select min(date) from weather union all select min(opened_date) from complaints))",
        "(select max(d) from (select max(date) as d from air union all select max(date) from weather union all select max(opened_date) from complaints))"
    ) }}

),

complaints_by_day as (

    {{ complaints_daily('complaints') }}

),

air_by_day as (

    select
        date,
        count(*) filter (where pm25_24h_mean is not null) as stations_reporting,
        round(avg(pm25_24h_mean), 1) as pm25_city_mean,
        max(aqi) as aqi_max,
        count(*) filter (where exceeds_pm25_standard) as stations_exceeding_pm25_standard
    from air
    group by all

),

-- the station with the highest AQI that day (lowest station id on a tie)
worst_station as (

    select
        air.date,
        air.station_id,
        stations.name_th,
        stations.name_en
    from air
    left join stations on air.station_id = stations.station_id
    where air.aqi is not null
    qualify row_number() over (partition by air.date order by air.aqi desc, air.station_id asc) = 1

),

final as (

    select
        days.date,
        cast(coalesce(air_by_day.stations_reporting, 0) as integer) as stations_reporting,
        air_by_day.pm25_city_mean,
        {{ thai_aqi('PM25', 'air_by_day.pm25_city_mean', 'days.date') }} as aqi_pm25_city_mean,
        air_by_day.aqi_max,
        {{ thai_aqi_category('air_by_day.aqi_max', 'th') }} as aqi_max_category_th,
        {{ thai_aqi_category('air_by_day.aqi_max', 'en') }} as aqi_max_category_en,
        {{ thai_aqi_category('air_by_day.aqi_max', 'colour') }} as aqi_max_colour,
        worst_station.station_id as worst_station_id,
        worst_station.name_th as worst_station_name_th,
        worst_station.name_en as worst_station_name_en,
        cast(coalesce(air_by_day.stations_exceeding_pm25_standard, 0) as integer) as stations_exceeding_pm25_standard,
        cast(coalesce(complaints_by_day.opened, 0) as integer) as complaints_opened,
        cast(coalesce(complaints_by_day.resolved, 0) as integer) as complaints_resolved,
        cast(coalesce(complaints_by_day.backlog_end_of_day, 0) as integer) as complaints_backlog,
        complaints_by_day.median_resolution_hours as complaints_median_resolution_hours,
        weather.rainfall_mm,
        weather.temperature_min_c,
        weather.temperature_mean_c,
        weather.temperature_max_c,
        weather.relative_humidity_mean_pct
    from days
    left join air_by_day on days.date = air_by_day.date
    left join worst_station on days.date = worst_station.date
    left join complaints_by_day on days.date = complaints_by_day.date
    left join weather on days.date = weather.date

)

select * from final
order by date
