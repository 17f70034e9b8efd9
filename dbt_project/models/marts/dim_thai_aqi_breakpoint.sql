-- The Thai AQI band table used by every AQI in the marts (macro thai_aqi_band_table), published so
-- that analysts can check a value by hand. valid_to is exclusive; NULL bounds mark the open top band.
with

bands as (

    select
        bands.pollutant,
        bands.averaging_period,
        bands.unit,
        bands.valid_from,
        bands.valid_to,
        bands.concentration_decimals,
        bands.band,
        bands.concentration_low,
        bands.concentration_high,
        bands.aqi_low,
        bands.aqi_high
    from (
        values
        {%- for t in thai_aqi_band_table() %}
            {%- set table_loop = loop %}
            {%- for x_low, x_high, i_low, i_high in t.bands %}
                (
                    '{{ t.pollutant }}', '{{ t.averaging }}', '{{ t.unit }}',
                    date '{{ t.valid_from }}', {{ "date '" ~ t.valid_to ~ "'" if t.valid_to else 'null' }},
                    {{ t.decimals }}, {{ loop.index }},
                    {{ x_low }}, {{ 'null' if x_high is none else x_high }},
                    {{ i_low }}, {{ 'null' if i_high is none else i_high }}
                )
                {{- "," if not (loop.last and table_loop.last) }}
            {%- endfor %}
        {%- endfor %}
    ) as bands (
        pollutant, averaging_period, unit, valid_from, valid_to, concentration_decimals, band,
        concentration_low, concentration_high, aqi_low, aqi_high
    )

),

categories as (

    select
        categories.band,
        categories.category_th,
        categories.category_en,
        categories.colour,
        categories.colour_hex
    from (
        values
        {%- for c in thai_aqi_categories() %}
            ({{ c[0] }}, '{{ c[3] }}', '{{ c[4] }}', '{{ c[5] }}', '{{ c[6] }}'){{ "," if not loop.last }}
        {%- endfor %}
    ) as categories (band, category_th, category_en, colour, colour_hex)

),

final as (

    select
        bands.pollutant,
        bands.averaging_period,
        bands.unit,
        bands.valid_from,
        bands.valid_to,
        cast(bands.concentration_decimals as integer) as concentration_decimals,
        cast(bands.band as integer) as band,
        cast(bands.concentration_low as double) as concentration_low,
        cast(bands.concentration_high as double) as concentration_high,
        cast(bands.aqi_low as integer) as aqi_low,
        cast(bands.aqi_high as integer) as aqi_high,
        categories.category_th,
        categories.category_en,
        categories.colour,
        categories.colour_hex
    from bands
    inner join categories on bands.band = categories.band

)

select * from final
order by pollutant, valid_from, band
