-- Every admin area of Thailand at one grain: country, province, district, subdistrict.
with

provinces as (

    select * from {{ ref('th_provinces') }}

),

districts as (

    select * from {{ ref('th_districts') }}

),

subdistricts as (

    select * from {{ ref('th_subdistricts') }}

),

country as (

    select
        '0' as admin_code,
        'country' as level,
        'ประเทศไทย' as name_th,
        'Thailand' as name_en,
        cast(null as varchar) as province_code,
        cast(null as varchar) as district_code,
        cast(null as varchar) as subdistrict_code,
        cast(null as varchar) as parent_code,
        cast(null as varchar) as postcode

),

province_areas as (

    select
        province_code as admin_code,
        'province' as level,
        name_th,
        name_en,
        province_code,
        cast(null as varchar) as district_code,
        cast(null as varchar) as subdistrict_code,
        '0' as parent_code,
        cast(null as varchar) as postcode
    from provinces

),

district_areas as (

    select
        district_code as admin_code,
        'district' as level,
        name_th,
        name_en,
        province_code,
        district_code,
        cast(null as varchar) as subdistrict_code,
        province_code as parent_code,
        postcode
    from districts

),

subdistrict_areas as (

    select
        subdistrict_code as admin_code,
        'subdistrict' as level,
        name_th,
        name_en,
        province_code,
        district_code,
        subdistrict_code,
        district_code as parent_code,
        postcode
    from subdistricts

),

final as (

    select * from country
    union all
    select * from province_areas
    union all
    select * from district_areas
    union all
    select * from subdistrict_areas

)

select * from final
