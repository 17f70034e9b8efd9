-- The city's Air4Thai monitoring stations: names, area, position and DOPA admin codes.
-- A configured station (var city_station_ids) missing from today's station list keeps its last
-- known listing (listing_status 'last_known'); one never listed is kept as 'unknown', so its
-- readings still join and nothing is held back (a warning test names it).
-- A position outside Thailand is NULLed and flagged (macros/plausibility.sql).
with

stations as (

    select * from {{ ref('int_air_station_places') }}

),

resolution as (

    select * from {{ ref('int_admin_name_resolution') }}
    where source = 'air4thai_stations'

),

newest_listing as (

    select max(last_seen_date) as snapshot_date from stations

),

configured as (

    select distinct lower(trim(station_id)) as station_id
    from unnest(cast([
            {%- for station in var('city_station_ids', []) %}
                '{{ station | replace("'", "''") }}'{{ "," if not loop.last }}
            {%- endfor %}
        ] as varchar[])) as ids (station_id)

),

listed as (

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
        stations.last_seen_date,
        case
            when stations.last_seen_date = newest_listing.snapshot_date then 'listed'
            else 'last_known'
        end as listing_status
    from stations
    cross join newest_listing
    left join resolution
        on stations.province_name is not distinct from resolution.province_name
        and stations.district_name is not distinct from resolution.district_name
        and stations.subdistrict_name is not distinct from resolution.subdistrict_name

),

never_listed as (

    select
        configured.station_id,
        'ไม่ทราบ' as name_th,
        'unknown' as name_en,
        cast(null as varchar) as area_th,
        cast(null as varchar) as area_en,
        cast(null as varchar) as station_type,
        cast(null as double) as lat,
        cast(null as double) as lon,
        false as coordinates_out_of_bounds,
        cast(null as varchar) as province_code,
        cast(null as varchar) as district_code,
        cast(null as varchar) as subdistrict_code,
        cast(null as date) as first_seen_date,
        cast(null as date) as last_seen_date,
        'unknown' as listing_status
    from configured
    anti join listed on lower(listed.station_id) = configured.station_id

),

final as (

    select * from listed
    union all
    select * from never_listed

)

select * from final
order by station_id
