-- Open-Meteo hourly weather at the city centre (local time as served, Asia/Bangkok).
with

source as (

    select * from {{ raw_source('open_meteo_hourly') }}

),

renamed as (

    select
        time_local as observed_at,
        cast(time_local as date) as observed_date,
        temperature_2m as temperature_c,
        relative_humidity_2m as relative_humidity_pct,
        precipitation as precipitation_mm,
        rain as rain_mm,
        wind_speed_10m as wind_speed_kmh,
        wind_direction_10m as wind_direction_deg,
        latitude,
        longitude,
        utc_offset_seconds,
        timezone,
        date as partition_date
    from source
    where time_local is not null

),

final as (

    select * from renamed
    -- observed_date is implied by observed_at; naming it lets a mart's one-day filter reach
    -- below this window (see stg_air4thai_hourly).
    qualify row_number() over (
            partition by observed_date, observed_at order by partition_date desc
        ) = 1

)

select * from final
