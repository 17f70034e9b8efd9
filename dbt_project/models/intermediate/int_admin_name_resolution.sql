{{ config(materialized='table') }}
-- Free-text place names from the sources, resolved to DOPA codes.
-- Names are compared by admin_name_key() (prefixes อ./อำเภอ/เขต/ต./ตำบล/แขวง/จ./จังหวัด, spaces
-- and Thai digits do not matter); when no name matches exactly, by admin_name_loose_key(), which
-- also ignores Thai vowel and tone marks (common typing slips), status "resolved_loosely".
-- Districts are looked up inside the named province, or the city's province when none is named;
-- subdistricts inside the resolved district, or inside the province when the district is unknown
-- and the name is unique there. A name that matches several areas is "ambiguous". Every name that
-- does not resolve keeps its row (codes NULL) and is counted in int_unresolved_admin_names.
with

tickets as (

    select * from {{ ref('stg_traffy_tickets') }}

),

stations as (

    select * from {{ ref('int_air_station_places') }}

),

population as (

    select * from {{ ref('stg_dopa_population') }}

),

areas as (

    select * from {{ ref('int_admin_areas') }}

),

lookup as (

    select * from {{ ref('int_admin_name_lookup') }}

),

station_names as (

    select
        'air4thai_stations' as source,
        province_name,
        district_name,
        subdistrict_name,
        count(*) as records
    from stations
    group by all

),

ticket_names as (

    select
        'traffy_tickets' as source,
        province_name,
        district_name,
        subdistrict_name,
        count(*) as records
    from tickets
    group by all

),

-- DOPA rows carry a code; only names whose code is not a known area need resolving.
population_names as (

    select
        'dopa_population' as source,
        case when population.level = 'province' then population.admin_name_th end as province_name,
        case when population.level = 'district' then population.admin_name_th end as district_name,
        case when population.level = 'subdistrict' then population.admin_name_th end as subdistrict_name,
        count(*) as records
    from population
    left join areas on population.admin_code = areas.admin_code and population.level = areas.level
    where areas.admin_code is null and population.level != 'country'
    group by all

),

inputs as (

    select * from station_names
    union all
    select * from ticket_names
    union all
    select * from population_names

),

keyed as (

    select
        *,
        {{ admin_name_key('province_name') }} as province_key,
        {{ admin_name_loose_key('province_name') }} as province_loose_key,
        {{ admin_name_key('district_name') }} as district_key,
        {{ admin_name_loose_key('district_name') }} as district_loose_key,
        {{ admin_name_key('subdistrict_name') }} as subdistrict_key,
        {{ admin_name_loose_key('subdistrict_name') }} as subdistrict_loose_key
    from inputs

),

-- Candidates per key within a scope; a key with more than one candidate is ambiguous.
province_keys as (

    select
        name_key,
        min(admin_code) as admin_code,
        count(distinct admin_code) as candidates
    from lookup
    where level = 'province'
    group by all

),

province_loose_keys as (

    select
        loose_key,
        min(admin_code) as admin_code,
        count(distinct admin_code) as candidates
    from lookup
    where level = 'province'
    group by all

),

district_keys as (

    select
        province_code,
        name_key,
        min(admin_code) as admin_code,
        count(distinct admin_code) as candidates
    from lookup
    where level = 'district'
    group by all

),

district_loose_keys as (

    select
        province_code,
        loose_key,
        min(admin_code) as admin_code,
        count(distinct admin_code) as candidates
    from lookup
    where level = 'district'
    group by all

),

subdistrict_keys as (

    select
        province_code,
        district_code,
        name_key,
        loose_key,
        admin_code
    from lookup
    where level = 'subdistrict'

),

with_province as (

    select
        keyed.*,
        {{ resolved_code(
            'exact.candidates', 'exact.admin_code', 'loose.candidates', 'loose.admin_code'
        ) }} as province_code_named,
        {{ resolution_status(
            'keyed.province_key', 'exact.candidates', 'loose.candidates'
        ) }} as province_status
    from keyed
    left join province_keys as exact on keyed.province_key = exact.name_key
    left join province_loose_keys as loose on keyed.province_loose_key = loose.loose_key

),

scoped as (

    select
        *,
        -- districts are looked up in the named province, else in the city's
        coalesce(province_code_named, '{{ var("city_province_code") }}') as scope_province_code
    from with_province

),

with_district as (

    select
        scoped.*,
        {{ resolved_code(
            'exact.candidates', 'exact.admin_code', 'loose.candidates', 'loose.admin_code'
        ) }} as district_code_named,
        {{ resolution_status(
            'scoped.district_key', 'exact.candidates', 'loose.candidates'
        ) }} as district_status
    from scoped
    left join district_keys as exact
        on scoped.scope_province_code = exact.province_code
        and scoped.district_key = exact.name_key
    left join district_loose_keys as loose
        on scoped.scope_province_code = loose.province_code
        and scoped.district_loose_key = loose.loose_key

),

-- Subdistricts: inside the resolved district, else inside the province.
subdistrict_candidates as (

    select
        with_district.source,
        with_district.province_name,
        with_district.district_name,
        with_district.subdistrict_name,
        count(distinct candidates.admin_code) filter (
            where candidates.name_key = with_district.subdistrict_key
        ) as exact_candidates,
        min(candidates.admin_code) filter (
            where candidates.name_key = with_district.subdistrict_key
        ) as exact_code,
        count(distinct candidates.admin_code) as loose_candidates,
        min(candidates.admin_code) as loose_code
    from with_district
    inner join subdistrict_keys as candidates
        on with_district.subdistrict_loose_key = candidates.loose_key
        and with_district.scope_province_code = candidates.province_code
        and (
            with_district.district_code_named is null
            or with_district.district_code_named = candidates.district_code
        )
    group by all

),

with_subdistrict as (

    select
        with_district.*,
        {{ resolved_code(
            'found.exact_candidates', 'found.exact_code', 'found.loose_candidates', 'found.loose_code'
        ) }} as subdistrict_code,
        {{ resolution_status(
            'with_district.subdistrict_key', 'found.exact_candidates', 'found.loose_candidates'
        ) }} as subdistrict_status
    from with_district
    left join subdistrict_candidates as found
        on with_district.source = found.source
        and with_district.province_name is not distinct from found.province_name
        and with_district.district_name is not distinct from found.district_name
        and with_district.subdistrict_name is not distinct from found.subdistrict_name

),

final as (

    select
        source,
        province_name,
        district_name,
        subdistrict_name,
        records,
        case when province_key is null then scope_province_code else province_code_named end
            as province_code,
        coalesce(district_code_named, left(subdistrict_code, 4)) as district_code,
        subdistrict_code,
        province_status,
        district_status,
        subdistrict_status
    from with_subdistrict

)

select * from final
