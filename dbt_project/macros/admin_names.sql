{#- Resolving a place name at one level (province, district, subdistrict) from its candidate
    counts: a unique exact key match wins; without an exact match, a unique loose match (spelling
    variants); more than one candidate is ambiguous. Counts are NULL when nothing joined. -#}

{% macro resolved_code(exact_count, exact_code, loose_count, loose_code) -%}
    case
        when {{ exact_count }} = 1 then {{ exact_code }}
        when coalesce({{ exact_count }}, 0) = 0 and {{ loose_count }} = 1 then {{ loose_code }}
    end
{%- endmacro %}

{% macro resolution_status(name_key, exact_count, loose_count) -%}
    case
        when {{ name_key }} is null then 'missing'
        when {{ exact_count }} = 1 then 'resolved'
        when {{ exact_count }} > 1 then 'ambiguous'
        when {{ loose_count }} = 1 then 'resolved_loosely'
        when {{ loose_count }} > 1 then 'ambiguous'
        else 'unresolved'
    end
{%- endmacro %}
