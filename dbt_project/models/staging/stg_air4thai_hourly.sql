-- Air4Thai hourly readings, one row per station and hour (Asia/Bangkok wall time). Negative PM
-- readings (sentinels) and readings above the physical ceiling are NULL; the latter are flagged
-- (is_pm_implausible) so they can be counted (macros/plausibility.sql).
-- A reading captured in two partitions (an overlapping re-fetch) is kept once, from the newest.
with

source as (

    select * from {{ raw_source('air4thai_hourly') }}

),

renamed as (

    select
        {{ clean_text('station_id') }} as station_id,
        measured_at,
        cast(measured_at as date) as measured_date,
        {{ plausible_pm('pm25') }} as pm25_ugm3,
        {{ plausible_pm('pm10') }} as pm10_ugm3,
        coalesce(pm25 > {{ pm_ceiling_ugm3() }} or pm10 > {{ pm_ceiling_ugm3() }}, false)
            as is_pm_implausible,
        {{ null_if_negative('o3') }} as o3_ppb,
        {{ null_if_negative('co') }} as co_ppm,
        {{ null_if_negative('no2') }} as no2_ppb,
        {{ null_if_negative('so2') }} as so2_ppb,
        {{ null_if_negative('ws') }} as wind_speed_ms,
        {{ null_if_negative('wd') }} as wind_direction_deg,
        temp as temperature_c,
        {{ null_if_negative('rh') }} as relative_humidity_pct,
        date as partition_date
    from source
    where station_id is not null and measured_at is not null

),

final as (

    select * from renamed
    -- measured_date is implied by measured_at; naming it lets DuckDB push a mart's one-day
    -- filter below this window instead of ranking all history first.
    qualify row_number() over (
            partition by station_id, measured_date, measured_at order by partition_date desc
        ) = 1

)

select * from final
