{#- Buddhist Era dates, Thai month names and time zones. -#}

{#- A year that is >= 2400 is Buddhist Era: subtract 543 (2567 -> 2024). Smaller years are CE. -#}
{% macro be_year_to_ce(year_expr) -%}
    case when {{ year_expr }} >= 2400 then {{ year_expr }} - 543 else {{ year_expr }} end
{%- endmacro %}

{#- DOPA's month code: two-digit BE year and month, "6712" -> 2024-12-01. Also accepts Thai
    digits and the four-digit BE form "256712". Anything else -> NULL. -#}
{% macro be_yymm_to_date(expr) -%}
    {%- set digits = "regexp_replace(" ~ thai_digits_to_arabic("trim(cast(" ~ expr ~ " as varchar))") ~ ", '\\s', '', 'g')" -%}
    case
        when regexp_full_match({{ digits }}, '\d{2}(0[1-9]|1[0-2])')
            then make_date(2500 + cast(left({{ digits }}, 2) as integer) - 543, cast(right({{ digits }}, 2) as integer), 1)
        when regexp_full_match({{ digits }}, '2[45]\d{2}(0[1-9]|1[0-2])')
            then make_date(cast(left({{ digits }}, 4) as integer) - 543, cast(right({{ digits }}, 2) as integer), 1)
    end
{%- endmacro %}

{#- Thai month names (full and abbreviated, with or without dots) -> 1..12. -#}
{% macro thai_month_names() -%}
    {{ return([
        ('มกราคม', 'ม.ค.'), ('กุมภาพันธ์', 'ก.พ.'), ('มีนาคม', 'มี.ค.'), ('เมษายน', 'เม.ย.'),
        ('พฤษภาคม', 'พ.ค.'), ('มิถุนายน', 'มิ.ย.'), ('กรกฎาคม', 'ก.ค.'), ('สิงหาคม', 'ส.ค.'),
        ('กันยายน', 'ก.ย.'), ('ตุลาคม', 'ต.ค.'), ('พฤศจิกายน', 'พ.ย.'), ('ธันวาคม', 'ธ.ค.'),
    ]) }}
{%- endmacro %}

{% macro thai_month_number(expr) -%}
    {%- set key = "replace(replace(trim(" ~ expr ~ "), '.', ''), ' ', '')" -%}
    case {{ key }}
    {%- for full, short in thai_month_names() %}
        when '{{ full }}' then {{ loop.index }} when '{{ short | replace(".", "") }}' then {{ loop.index }}
    {%- endfor %}
    end
{%- endmacro %}

{#- A Thai date written as text -> DATE: "17 ม.ค. 2567", "๑๗ มกราคม ๖๗", "17/01/2567",
    "2567-01-17". Years >= 2400 are BE; two-digit years are BE (25yy). -#}
{% macro thai_text_to_date(expr) -%}
    {%- set t = "regexp_replace(trim(" ~ thai_digits_to_arabic(expr) ~ "), '\\s+', ' ', 'g')" -%}
    {%- set named = "regexp_extract(" ~ t ~ ", '^(\\d{1,2}) ?([^\\d ]+) ?(\\d{2}|\\d{4})$', ['d', 'm', 'y'])" -%}
    {%- set slashed = "regexp_extract(" ~ t ~ ", '^(\\d{1,2})[/.-](\\d{1,2})[/.-](\\d{2}|\\d{4})$', ['d', 'm', 'y'])" -%}
    {%- set iso = "regexp_extract(" ~ t ~ ", '^(\\d{4})-(\\d{1,2})-(\\d{1,2})$', ['y', 'm', 'd'])" -%}
    coalesce(
        {{ _thai_make_date(named ~ ".y", thai_month_number(named ~ ".m"), named ~ ".d") }},
        {{ _thai_make_date(slashed ~ ".y", "try_cast(" ~ slashed ~ ".m as integer)", slashed ~ ".d") }},
        {{ _thai_make_date(iso ~ ".y", "try_cast(" ~ iso ~ ".m as integer)", iso ~ ".d") }}
    )
{%- endmacro %}

{% macro _thai_make_date(year_text, month_expr, day_text) -%}
    try_cast(try_cast(
        lpad(cast({{ be_year_to_ce(
            "case when length(" ~ year_text ~ ") = 2 then 2500 + try_cast(" ~ year_text ~ " as integer)"
            ~ " else try_cast(" ~ year_text ~ " as integer) end") }} as varchar), 4, '0')
        || '-' || lpad(cast({{ month_expr }} as varchar), 2, '0')
        || '-' || lpad({{ day_text }}, 2, '0')
    as varchar) as date)
{%- endmacro %}

{#- A TIMESTAMPTZ (e.g. Traffy's "...+00" UTC values) -> naive wall-clock time in the city's
    time zone (Asia/Bangkok, +07:00). Independent of the session time zone. -#}
{% macro to_city_local_time(expr) -%}
    timezone('{{ var("city_timezone") }}', {{ expr }})
{%- endmacro %}
