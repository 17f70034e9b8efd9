-- Thailand's admin areas (country, provinces, districts, subdistricts) with DOPA codes, Thai and
-- English names, postcodes and the names of their parents; the city's own areas are flagged.
with

areas as (

    select * from {{ ref('int_admin_areas') }}

),

final as (

    select
        areas.admin_code,
        areas.level,
        areas.name_th,
        areas.name_en,
        areas.province_code,
        areas.district_code,
        areas.subdistrict_code,
        areas.parent_code,
        areas.postcode,
        provinces.name_th as province_name_th,
        provinces.name_en as province_name_en,
        districts.name_th as district_name_th,
        districts.name_en as district_name_en,
        case
            when areas.level = 'province' then areas.admin_code = '{{ var("city_province_code") }}'
            when areas.level in ('district', 'subdistrict')
                then areas.district_code in ({{ sql_string_list(var('city_district_codes')) }})
            else false
        end as is_city_area
    from areas
    left join areas as provinces
        on areas.province_code = provinces.admin_code and provinces.level = 'province'
    left join areas as districts
        on areas.district_code = districts.admin_code and districts.level = 'district'

)

select * from final
order by length(admin_code), admin_code
