{{ config(materialized='table') }}
-- Comparison keys of every admin-area name (Thai, English and known aliases), for the resolver.
with

areas as (

    select * from {{ ref('int_admin_areas') }}
    where level != 'country'

),

aliases as (

    select * from {{ ref('admin_name_aliases') }}

),

provinces as (

    select
        admin_code,
        name_th
    from areas
    where level = 'province'

),

-- "อ.เมือง" alone means the province's capital district (เมือง<province>), e.g. เมืองขอนแก่น.
capital_districts as (

    select
        'district' as level,
        areas.admin_code,
        'เมือง' as name
    from areas
    inner join provinces on areas.province_code = provinces.admin_code
    where areas.level = 'district' and areas.name_th = 'เมือง' || provinces.name_th

),

names as (

    select
        level,
        admin_code,
        name_th as name
    from areas
    union all
    select
        level,
        admin_code,
        name_en as name
    from areas
    union all
    select
        level,
        admin_code,
        alias as name
    from aliases
    union all
    select
        level,
        admin_code,
        name
    from capital_districts
    union all
    select
        level,
        admin_code,
        'mueang' as name
    from capital_districts

),

final as (

    select distinct
        names.level,
        {{ admin_name_key('names.name') }} as name_key,
        {{ admin_name_loose_key('names.name') }} as loose_key,
        names.admin_code,
        areas.province_code,
        areas.district_code
    from names
    inner join areas on names.level = areas.level and names.admin_code = areas.admin_code
    where names.name is not null

)

select * from final
