-- The city's Air4Thai monitoring stations: names, area, position and DOPA admin codes. A position
-- outside Thailand is NULLed and flagged (macros/plausibility.sql).
with

stations as (

    select * from {{ ref('int_air_station_places') }}

),

resolution as (

    select * from {{ ref('int_admin_name_resolution') }}
    where source = 'air4thai_stations'

),

final as (

    select
        stations.station_id,
        stations.name_th,
        stations.name_en,
        stations.area_th,
        stations.area_en,
        stations.station_type,
        {{ coordinate_in_bounds('stations.lat', 'stations.lat', 'stations.lon') }} as lat,
        {{ coordinate_in_bounds('stations.lon', 'stations.lat', 'stations.lon') }} as lon,
        {{ coordinates_out_of_bounds('stations.lat', 'stations.lon') }} as coordinates_out_of_bounds,
        resolution.province_code,
        resolution.district_code,
        resolution.subdistrict_code,
        stations.first_seen_date,
        stations.last_seen_date
    from stations
    left join resolution
        on stations.province_name is not distinct from resolution.province_name
        and stations.district_name is not distinct from resolution.district_name
        and stations.subdistrict_name is not distinct from resolution.subdistrict_name

)

select * from final
order by station_id
