-- Place names that did not resolve exactly to one DOPA code (unresolved, ambiguous, or resolved
-- only by ignoring Thai vowel/tone marks), with how many records carry them. Reported by a
-- warning test (and so as a Dagster asset check); the records are never dropped.
with

resolution as (

    select * from {{ ref('int_admin_name_resolution') }}

),

unpivoted as (

    select
        source,
        'province' as level,
        province_name as name_text,
        province_status as status,
        records
    from resolution
    union all
    select
        source,
        'district' as level,
        district_name as name_text,
        district_status as status,
        records
    from resolution
    union all
    select
        source,
        'subdistrict' as level,
        subdistrict_name as name_text,
        subdistrict_status as status,
        records
    from resolution

),

final as (

    select
        source,
        level,
        name_text,
        status,
        cast(sum(records) as bigint) as records
    from unpivoted
    where status in ('unresolved', 'ambiguous', 'resolved_loosely')
    group by all

)

select * from final
