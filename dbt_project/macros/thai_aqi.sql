{#- Thai Air Quality Index of the Pollution Control Department (PCD).

    Each pollutant's concentration is rounded to the precision of its band table, the band that
    holds it is found, and the sub-index is the linear interpolation inside that band,
        I = (I_high - I_low) / (X_high - X_low) * (X - X_low) + I_low,
    rounded to an integer. The AQI is the maximum sub-index. The band table depends on the date:
    the PM2.5 bands changed on 2023-06-01. PCD gives no upper breakpoint above AQI 200; there the
    top band starts at 201 and continues with the slope of the band below, up to the top of the
    AQI scale, 500 (documented in docs/marts.md). One band table, used by the SQL below and published as dim_thai_aqi_breakpoint.
-#}

{#- Rows: (pollutant, valid_from, valid_to (exclusive), decimals, [(x_low, x_high, i_low, i_high)]).
    NULL x_high/i_high marks the open top band. -#}
{% macro thai_aqi_band_table() -%}
    {%- set top = none -%}
    {{ return([
        {'pollutant': 'PM25', 'averaging': '24h', 'unit': 'µg/m³', 'valid_from': '2023-06-01', 'valid_to': none, 'decimals': 1,
         'bands': [(0, 15.0, 0, 25), (15.1, 25.0, 26, 50), (25.1, 37.5, 51, 100), (37.6, 75.0, 101, 200), (75.1, top, 201, top)]},
        {'pollutant': 'PM25', 'averaging': '24h', 'unit': 'µg/m³', 'valid_from': '1900-01-01', 'valid_to': '2023-06-01', 'decimals': 0,
         'bands': [(0, 25, 0, 25), (26, 37, 26, 50), (38, 50, 51, 100), (51, 90, 101, 200), (91, top, 201, top)]},
        {'pollutant': 'PM10', 'averaging': '24h', 'unit': 'µg/m³', 'valid_from': '1900-01-01', 'valid_to': none, 'decimals': 0,
         'bands': [(0, 50, 0, 25), (51, 80, 26, 50), (81, 120, 51, 100), (121, 180, 101, 200), (181, top, 201, top)]},
        {'pollutant': 'O3', 'averaging': '8h', 'unit': 'ppb', 'valid_from': '1900-01-01', 'valid_to': none, 'decimals': 0,
         'bands': [(0, 35, 0, 25), (36, 50, 26, 50), (51, 70, 51, 100), (71, 120, 101, 200), (121, top, 201, top)]},
        {'pollutant': 'CO', 'averaging': '8h', 'unit': 'ppm', 'valid_from': '1900-01-01', 'valid_to': none, 'decimals': 1,
         'bands': [(0, 4.4, 0, 25), (4.5, 6.4, 26, 50), (6.5, 9.0, 51, 100), (9.1, 30.0, 101, 200), (30.1, top, 201, top)]},
        {'pollutant': 'NO2', 'averaging': '1h', 'unit': 'ppb', 'valid_from': '1900-01-01', 'valid_to': none, 'decimals': 0,
         'bands': [(0, 60, 0, 25), (61, 106, 26, 50), (107, 170, 51, 100), (171, 340, 101, 200), (341, top, 201, top)]},
        {'pollutant': 'SO2', 'averaging': '1h', 'unit': 'ppb', 'valid_from': '1900-01-01', 'valid_to': none, 'decimals': 0,
         'bands': [(0, 100, 0, 25), (101, 200, 26, 50), (201, 300, 51, 100), (301, 400, 101, 200), (401, top, 201, top)]},
    ]) }}
{%- endmacro %}

{#- Top of the AQI scale: a sub-index that would go above it (an extreme smoke day, PM2.5 over
    ~190 µg/m³ on the 2023 table) is capped here, so a real reading is published as "500 and
    worse" instead of failing the 0-500 check. -#}
{% macro thai_aqi_ceiling() -%}
    {{ return(500) }}
{%- endmacro %}

{#- AQI categories: (band, aqi_low, aqi_high, Thai, English, colour, hex). -#}
{% macro thai_aqi_categories() -%}
    {{ return([
        (1, 0, 25, 'ดีมาก', 'Excellent', 'blue', '#3BCCFF'),
        (2, 26, 50, 'ดี', 'Satisfactory', 'green', '#92D050'),
        (3, 51, 100, 'ปานกลาง', 'Moderate', 'yellow', '#FFFF00'),
        (4, 101, 200, 'เริ่มมีผลกระทบต่อสุขภาพ', 'Unhealthy', 'orange', '#FFA200'),
        (5, 201, none, 'มีผลกระทบต่อสุขภาพ', 'Very unhealthy', 'red', '#F04646'),
    ]) }}
{%- endmacro %}

{#- Sub-index of one band table for the rounded concentration `x`. -#}
{% macro _thai_aqi_bands_case(x, bands) -%}
    case
    {%- for x_low, x_high, i_low, i_high in bands %}
        {%- if x_high is none %}
            {%- set prev = bands[loop.index0 - 1] %}
        else least(round(({{ prev[3] }} - {{ prev[2] }}) / ({{ prev[1] }} - {{ prev[0] }}) * ({{ x }} - {{ x_low }}) + {{ i_low }}), {{ thai_aqi_ceiling() }})
        {%- else %}
        when {{ x }} <= {{ x_high }} then round(({{ i_high }} - {{ i_low }}) / ({{ x_high }} - {{ x_low }}) * ({{ x }} - {{ x_low }}) + {{ i_low }})
        {%- endif %}
    {%- endfor %}
    end
{%- endmacro %}

{#- Thai AQI sub-index (INTEGER) of `pollutant` ('PM25', 'PM10', 'O3', 'CO', 'NO2', 'SO2') for the
    concentration `value_expr` averaged as PCD prescribes, measured on `date_expr`. NULL or
    negative concentrations give NULL. -#}
{% macro thai_aqi(pollutant, value_expr, date_expr) -%}
    {%- set tables = thai_aqi_band_table() | selectattr('pollutant', 'equalto', pollutant) | list -%}
    {%- if not tables -%}{{ exceptions.raise_compiler_error("thai_aqi: unknown pollutant " ~ pollutant) }}{%- endif -%}
    cast(case
        when {{ value_expr }} is null or {{ value_expr }} < 0 then null
    {%- for t in tables %}
        {%- set x = "round(cast(" ~ value_expr ~ " as double), " ~ t.decimals ~ ")" %}
        when {{ date_expr }} >= date '{{ t.valid_from }}'{% if t.valid_to %} and {{ date_expr }} < date '{{ t.valid_to }}'{% endif %}
            then {{ _thai_aqi_bands_case(x, t.bands) }}
    {%- endfor %}
    end as integer)
{%- endmacro %}

{#- Category attribute of an AQI value: attribute in band, th, en, colour, hex. -#}
{% macro thai_aqi_category(aqi_expr, attribute) -%}
    {%- set index = {'band': 0, 'th': 3, 'en': 4, 'colour': 5, 'hex': 6}[attribute] -%}
    case
    {%- for c in thai_aqi_categories() %}
        {%- if c[2] is none %}
        when {{ aqi_expr }} >= {{ c[1] }} then {{ c[index] if attribute == 'band' else "'" ~ c[index] ~ "'" }}
        {%- else %}
        when {{ aqi_expr }} <= {{ c[2] }} then {{ c[index] if attribute == 'band' else "'" ~ c[index] ~ "'" }}
        {%- endif %}
    {%- endfor %}
    end
{%- endmacro %}
