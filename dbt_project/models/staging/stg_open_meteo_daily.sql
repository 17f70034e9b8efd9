-- Open-Meteo daily weather aggregates at the city centre (the city's local day).
with

source as (

    select
        *,
        regexp_extract(filename, 'date=(\d{4}-\d{2}-\d{2})', 1) as partition_key
    from {{ raw_source('open_meteo_daily') }}

),

renamed as (

    select
        date,
        temperature_2m_min as temperature_min_c,
        temperature_2m_mean as temperature_mean_c,
        temperature_2m_max as temperature_max_c,
        precipitation_sum as precipitation_mm,
        rain_sum as rain_mm,
        relative_humidity_2m_mean as relative_humidity_mean_pct,
        latitude,
        longitude,
        timezone,
        partition_key
    from source
    where date is not null

),

final as (

    select * exclude (partition_key) from renamed
    qualify row_number() over (partition by date order by partition_key desc) = 1

)

select * from final
