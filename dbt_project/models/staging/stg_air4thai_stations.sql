-- Air4Thai stations as listed on each snapshot day, with the AQI Air4Thai itself reported
-- (AQILast: PM2.5 and PM10 are 24-hour means, O3 and CO 8-hour, NO2 and SO2 1-hour).
with

source as (

    select * from {{ raw_source('air4thai_stations') }}

),

renamed as (

    select
        {{ clean_text('station_id') }} as station_id,
        date as snapshot_date,
        {{ clean_text('name_th') }} as name_th,
        {{ clean_text('name_en') }} as name_en,
        {{ clean_text('area_th') }} as area_th,
        {{ clean_text('area_en') }} as area_en,
        {{ clean_text('station_type') }} as station_type,
        lat,
        lon,
        aqi_last_at,
        {{ null_if_negative('pm25_value') }} as pm25_ugm3,
        {{ null_if_negative('pm25_aqi') }} as pm25_aqi,
        {{ null_if_negative('pm10_value') }} as pm10_ugm3,
        {{ null_if_negative('pm10_aqi') }} as pm10_aqi,
        {{ null_if_negative('o3_value') }} as o3_ppb,
        {{ null_if_negative('o3_aqi') }} as o3_aqi,
        {{ null_if_negative('co_value') }} as co_ppm,
        {{ null_if_negative('co_aqi') }} as co_aqi,
        {{ null_if_negative('no2_value') }} as no2_ppb,
        {{ null_if_negative('no2_aqi') }} as no2_aqi,
        {{ null_if_negative('so2_value') }} as so2_ppb,
        {{ null_if_negative('so2_aqi') }} as so2_aqi,
        {{ null_if_negative('aqi') }} as aqi,
        {{ clean_text('aqi_param') }} as aqi_param,
        case when aqi_color_id > 0 then aqi_color_id end as aqi_color_id
    from source
    where station_id is not null

),

final as (

    select * from renamed
    qualify row_number() over (partition by station_id, snapshot_date order by aqi_last_at desc nulls last) = 1

)

select * from final
