{#- Plausibility rules applied while curating: a value that cannot be true is NULLed (and flagged
    where a published mart keeps the row), never published as if it were a reading. -#}

{#- Thailand's bounding box, the one place it is stated (the GX suites repeat the numbers and a
    test checks they agree). Extreme points of the country: north 20.46 N (Mae Sai, Chiang Rai),
    south 5.61 N (Betong, Yala), west 97.34 E (Mae Hong Son), east 105.64 E (Khong Chiam, Ubon
    Ratchathani), rounded outwards to 0.1 degree. -#}
{% macro thailand_bbox() -%}
    {{ return({'lat_min': 5.6, 'lat_max': 20.5, 'lon_min': 97.3, 'lon_max': 105.7}) }}
{%- endmacro %}

{#- True when both coordinates are present and outside Thailand (or only one is present: a
    point with half a position is no position). NULL coordinates are not "out of bounds". -#}
{% macro coordinates_out_of_bounds(lat, lon) -%}
    {%- set box = thailand_bbox() -%}
    coalesce(not (
        {{ lat }} between {{ box.lat_min }} and {{ box.lat_max }}
        and {{ lon }} between {{ box.lon_min }} and {{ box.lon_max }}
    ), {{ lat }} is not null or {{ lon }} is not null)
{%- endmacro %}

{#- The coordinate, or NULL when the point is out of bounds. -#}
{% macro coordinate_in_bounds(coordinate, lat, lon) -%}
    case when not {{ coordinates_out_of_bounds(lat, lon) }} then {{ coordinate }} end
{%- endmacro %}

{#- Longest free text published, in characters (Unicode code points). A longer text is cut and
    flagged: nobody reads a 100 KB complaint, and a CSV cell that size breaks spreadsheet tools
    (Excel's cell limit is 32,767 characters). -#}
{% macro max_text_chars(column) -%}
    {{ return({'description': 4000, 'address': 1000}[column]) }}
{%- endmacro %}

{% macro capped_text(expr, max_chars) -%}
    case when length({{ expr }}) > {{ max_chars }} then left({{ expr }}, {{ max_chars }}) else {{ expr }} end
{%- endmacro %}

{% macro text_truncated(expr, max_chars) -%}
    coalesce(length({{ expr }}) > {{ max_chars }}, false)
{%- endmacro %}

{#- Physical ceiling of a particulate concentration (µg/m³): a reading above it is a sensor or
    transmission fault, not air. -#}
{% macro pm_ceiling_ugm3() -%}
    {{ return(1000) }}
{%- endmacro %}

{#- A PM concentration, NULL when negative (sentinels) or above the physical ceiling. -#}
{% macro plausible_pm(expr) -%}
    case when {{ expr }} between 0 and {{ pm_ceiling_ugm3() }} then {{ expr }} end
{%- endmacro %}
