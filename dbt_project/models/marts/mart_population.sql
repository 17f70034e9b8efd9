-- Registered population (DOPA) per admin area and month: male, female, total, households.
-- The area is identified by the file's DOPA code, or, when that code is not a known area, by its
-- name resolved inside the city's province (see int_admin_name_resolution).
with

population as (

    select * from {{ ref('stg_dopa_population') }}

),

areas as (

    select * from {{ ref('dim_admin_area') }}

),

resolution as (

    select * from {{ ref('int_admin_name_resolution') }}
    where source = 'dopa_population'

),

-- the row's name in the column of its level, as the resolver keys it
named as (

    select
        *,
        case when level = 'province' then admin_name_th end as province_name,
        case when level = 'district' then admin_name_th end as district_name,
        case when level = 'subdistrict' then admin_name_th end as subdistrict_name
    from population

),

coded as (

    select
        named.*,
        coalesce(
            known.admin_code,
            case named.level
                when 'province' then resolution.province_code
                when 'district' then resolution.district_code
                when 'subdistrict' then resolution.subdistrict_code
            end
        ) as resolved_code
    from named
    left join areas as known
        on named.admin_code = known.admin_code and named.level = known.level
    left join resolution
        on known.admin_code is null
        and named.level != 'country'
        and named.province_name is not distinct from resolution.province_name
        and named.district_name is not distinct from resolution.district_name
        and named.subdistrict_name is not distinct from resolution.subdistrict_name

),

final as (

    select
        coded.month,
        coded.level,
        coded.resolved_code as admin_code,
        coded.admin_code as source_admin_code,
        coded.admin_name_th as source_admin_name_th,
        areas.name_th,
        areas.name_en,
        areas.province_code,
        coalesce(areas.is_city_area, false) as is_city_area,
        coded.male,
        coded.female,
        coded.total,
        coded.households,
        coded.yymm_be
    from coded
    left join areas on coded.resolved_code = areas.admin_code

)

select * from final
order by month, level, admin_code
