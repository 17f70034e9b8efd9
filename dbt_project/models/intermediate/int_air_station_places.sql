{{ config(materialized='table') }}
-- Each Air4Thai station's latest listing, with its place names parsed from areaTH, which looks
-- like "ต.ในเมือง อ.เมือง, ขอนแก่น" or "ริมถนนกาญจนาภิเษก เขตบางขุนเทียน, กรุงเทพฯ".
-- A table: its window over every daily listing would otherwise run again for each of its four
-- readers (the name resolution, dim_air_station and two data tests).
with

stations as (

    select * from {{ ref('stg_air4thai_stations') }}

),

latest as (

    select
        *,
        min(snapshot_date) over (partition by station_id) as first_seen_date,
        max(snapshot_date) over (partition by station_id) as last_seen_date
    from stations
    qualify row_number() over (partition by station_id order by snapshot_date desc) = 1

),

final as (

    select
        station_id,
        name_th,
        name_en,
        area_th,
        area_en,
        station_type,
        lat,
        lon,
        first_seen_date,
        last_seen_date,
        nullif(trim(regexp_extract(area_th, ',\s*([^,]+)$', 1)), '') as province_name,
        nullif(regexp_extract(area_th, '(?:^|\s)((?:อ\.|อำเภอ|เขต)\s*[^\s,]+)', 1), '') as district_name,
        nullif(regexp_extract(area_th, '(?:^|\s)((?:ต\.|ตำบล|แขวง)\s*[^\s,]+)', 1), '') as subdistrict_name
    from latest

)

select * from final
