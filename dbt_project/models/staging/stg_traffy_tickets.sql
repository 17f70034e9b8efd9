-- Traffy Fondue complaints: the latest version of each ticket (raw keeps every state seen).
-- Timestamps are converted from UTC (+00) to Asia/Bangkok wall-clock time.
with

source as (

    select * from {{ raw_source('traffy_tickets') }}

),

renamed as (

    select
        {{ clean_text('ticket_id') }} as ticket_id,
        {{ clean_text('type') }} as complaint_type,
        list_sort(list_distinct(list_filter(
            list_transform(categories, lambda c: {{ clean_text('c') }}), lambda c: c is not null
        ))) as categories,
        list_filter(list_transform(org, lambda o: {{ clean_text('o') }}), lambda o: o is not null)
            as organisations,
        {{ clean_text('description') }} as description,
        {{ clean_text('address') }} as address,
        {{ clean_text('subdistrict') }} as subdistrict_name,
        {{ clean_text('district') }} as district_name,
        {{ clean_text('province') }} as province_name,
        lat,
        lon,
        {{ clean_text('state') }} as state,
        {{ null_if_negative('star') }} as star,
        {{ null_if_negative('count_reopen') }} as count_reopen,
        {{ clean_text('photo_url') }} as photo_url,
        {{ clean_text('after_photo') }} as after_photo_url,
        {{ to_city_local_time('reported_at') }} as reported_at,
        {{ to_city_local_time('last_activity') }} as last_activity_at,
        {{ to_city_local_time('inprogress_at') }} as inprogress_at,
        {{ to_city_local_time('finished_at') }} as finished_at,
        {{ clean_text('source_endpoint') }} as source_endpoint,
        date as snapshot_date
    from source
    where ticket_id is not null

),

final as (

    select
        *,
        count(*) over (partition by ticket_id) as versions_seen
    from renamed
    qualify
        row_number() over (
            partition by ticket_id
            order by
                last_activity_at desc nulls last,
                snapshot_date desc,
                finished_at desc nulls last,
                state asc,
                source_endpoint asc
        ) = 1

)

select * from final
