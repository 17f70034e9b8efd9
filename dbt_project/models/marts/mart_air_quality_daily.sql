{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='date',
        on_schema_change='fail',
        tags=['daily'],
    )
}}
-- Air quality per station per day with the Thai AQI (Pollution Control Department method).
-- PM2.5 and PM10 use the day's 24-hour mean; O3 and CO the day's highest 8-hour running mean
-- (at least 6 of the 8 hours measured; the running mean reaches into the previous day); NO2 and
-- SO2 the day's highest hourly value. The AQI is the highest sub-index.
with

hourly as (

    select * from {{ ref('stg_air4thai_hourly') }}
    -- one day more on the left for the 8-hour running means of the first hours
    where {{ in_window('measured_date', pad_days=1) }}

),

running as (

    select
        *,
        avg(o3_ppb) over last_8_hours as o3_8h_mean,
        count(o3_ppb) over last_8_hours as o3_8h_hours,
        avg(co_ppm) over last_8_hours as co_8h_mean,
        count(co_ppm) over last_8_hours as co_8h_hours
    from hourly
    window last_8_hours as (
        partition by station_id order by measured_at
        range between interval 7 hours preceding and current row
    )

),

daily as (

    select
        measured_date as date,
        station_id,
        count(distinct measured_at) filter (where pm25_ugm3 is not null) as hours_measured,
        round(avg(pm25_ugm3), 1) as pm25_24h_mean,
        max(pm25_ugm3) as pm25_max_1h,
        round(avg(pm10_ugm3), 1) as pm10_24h_mean,
        round(max(o3_8h_mean) filter (where o3_8h_hours >= 6), 1) as o3_max_8h,
        round(max(co_8h_mean) filter (where co_8h_hours >= 6), 2) as co_max_8h,
        max(no2_ppb) as no2_max_1h,
        max(so2_ppb) as so2_max_1h
    from running
    where {{ in_window('measured_date') }}
    group by all

),

sub_indices as (

    select
        *,
        {{ thai_aqi('PM25', 'pm25_24h_mean', 'date') }} as aqi_pm25,
        {{ thai_aqi('PM10', 'pm10_24h_mean', 'date') }} as aqi_pm10,
        {{ thai_aqi('O3', 'o3_max_8h', 'date') }} as aqi_o3,
        {{ thai_aqi('CO', 'co_max_8h', 'date') }} as aqi_co,
        {{ thai_aqi('NO2', 'no2_max_1h', 'date') }} as aqi_no2,
        {{ thai_aqi('SO2', 'so2_max_1h', 'date') }} as aqi_so2
    from daily

),

with_aqi as (

    select
        *,
        greatest(aqi_pm25, aqi_pm10, aqi_o3, aqi_co, aqi_no2, aqi_so2) as aqi
    from sub_indices

),

final as (

    select
        date,
        station_id,
        cast(hours_measured as integer) as hours_measured,
        round(100.0 * hours_measured / 24, 1) as completeness_pct,
        hours_measured >= 18 as is_complete_day,
        pm25_24h_mean,
        pm25_max_1h,
        pm10_24h_mean,
        o3_max_8h,
        co_max_8h,
        no2_max_1h,
        so2_max_1h,
        aqi_pm25,
        aqi_pm10,
        aqi_o3,
        aqi_co,
        aqi_no2,
        aqi_so2,
        aqi,
        -- the pollutant that sets the AQI (first of PM2.5, PM10, O3, CO, NO2, SO2 on a tie)
        case aqi
            when aqi_pm25 then 'PM25'
            when aqi_pm10 then 'PM10'
            when aqi_o3 then 'O3'
            when aqi_co then 'CO'
            when aqi_no2 then 'NO2'
            when aqi_so2 then 'SO2'
        end as aqi_param,
        cast({{ thai_aqi_category('aqi', 'band') }} as integer) as aqi_band,
        {{ thai_aqi_category('aqi', 'th') }} as aqi_category_th,
        {{ thai_aqi_category('aqi', 'en') }} as aqi_category_en,
        {{ thai_aqi_category('aqi', 'colour') }} as aqi_colour,
        {{ thai_aqi_category('aqi', 'hex') }} as aqi_colour_hex,
        pm25_24h_mean > 37.5 as exceeds_pm25_standard
    from with_aqi

)

select * from final
order by date, station_id
