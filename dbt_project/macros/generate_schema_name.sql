{#- Schemas are named after the layer (staging, intermediate, marts, reference), not
    <target>_<layer>: analysts read `marts.mart_city_daily`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
