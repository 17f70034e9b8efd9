{#- Thai text cleaning shared by staging models and the admin-name resolver. -#}

{#- Missing-value conventions seen in Thai public payloads (as the real samples in data/recordings/real-samples show). -#}
{% macro missing_text_sentinels() -%}
    {{ return(['-1', '-999', '-9999', '-', '', 'N/A', 'n/a', 'NA', 'null', 'NULL', 'None']) }}
{%- endmacro %}

{#- Thai digits ๐-๙ to 0-9. -#}
{% macro thai_digits_to_arabic(expr) -%}
    translate({{ expr }}, '๐๑๒๓๔๕๖๗๘๙', '0123456789')
{%- endmacro %}

{#- A text value that is one of the missing-value sentinels becomes NULL. -#}
{% macro null_if_sentinel(expr) -%}
    case when trim({{ expr }}) in (
        {%- for s in missing_text_sentinels() %}'{{ s }}'{{ ", " if not loop.last }}{% endfor -%}
    ) then null else {{ expr }} end
{%- endmacro %}

{#- A numeric reading that is a sentinel (-1, -999, -9999) or negative becomes NULL:
    concentrations, AQI values and counts are never negative. -#}
{% macro null_if_negative(expr) -%}
    case when {{ expr }} < 0 then null else {{ expr }} end
{%- endmacro %}

{#- Trim (also no-break, zero-width spaces and BOM), collapse inner whitespace to one space,
    then sentinels -> NULL. -#}
{% macro clean_text(expr) -%}
    {{ null_if_sentinel(
        "regexp_replace(regexp_replace(" ~ expr ~ ", '^[\\s\\x{00A0}\\x{200B}\\x{FEFF}]+|[\\s\\x{00A0}\\x{200B}\\x{FEFF}]+$', '', 'g'), '[\\s\\x{00A0}]+', ' ', 'g')"
    ) }}
{%- endmacro %}

{#- Leading administrative prefixes in free-text place names, longest first so that
    "อำเภอ" is removed whole before "อ." is tried. -#}
{% macro admin_name_prefix_pattern() -%}
    {{ return("^(กิ่งอำเภอ|อำเภอ|อ\\.|เขต|ตำบล|ต\\.|แขวง|จังหวัด|จ\\.)") }}
{%- endmacro %}

{#- Strip the admin prefixes (อ., อำเภอ, เขต, ต., ตำบล, แขวง, จ., จังหวัด) from a cleaned name. -#}
{% macro strip_admin_prefix(expr) -%}
    nullif(trim(regexp_replace(trim({{ expr }}), '{{ admin_name_prefix_pattern() }}\s*', '')), '')
{%- endmacro %}

{#- The comparison key of a place name: cleaned, Thai digits as 0-9, prefix stripped, all
    whitespace removed and lower-cased (for English names). Applied to both the free text and
    the reference names, so "อ. เมือง ขอนแก่น " and "เมืองขอนแก่น" share a key. -#}
{% macro admin_name_key(expr) -%}
    nullif(lower(regexp_replace({{ strip_admin_prefix(clean_text(thai_digits_to_arabic(expr))) }}, '[\s\x{00A0}]+', '', 'g')), '')
{%- endmacro %}

{#- A looser key for misspelt names: admin_name_key without Thai vowel and tone marks
    (ั ิ ี ึ ื ุ ู ฺ ็ ่ ้ ๊ ๋ ์ ...), which citizens' typing and broken encodings often drop:
    "เมองขอนแกน" and "เมืองขอนแก่น" share a loose key. Used only when no exact key matches. -#}
{% macro admin_name_loose_key(expr) -%}
    nullif(regexp_replace({{ admin_name_key(expr) }}, '[\x{0E31}\x{0E34}-\x{0E3A}\x{0E47}-\x{0E4E}]', '', 'g'), '')
{%- endmacro %}

{#- A Jinja list as a SQL list of string literals: ['4001', '4002'] -> '4001', '4002'. -#}
{% macro sql_string_list(values) -%}
    {%- for value in values %}'{{ value | string | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}
