{#- Where the capture layer writes raw Parquet (CITY_PIPELINE_DATA_DIR/lake/raw/<table>/date=*/). -#}
{% macro raw_table_glob(table) -%}
    {{ return(env_var('CITY_PIPELINE_DATA_DIR', '../data') ~ '/lake/raw/' ~ table ~ '/date=*/*.parquet') }}
{%- endmacro %}

{#- A raw source table, or a typed empty relation when nothing has been captured for it yet
    (a new city, a disabled source). DuckDB cannot read a glob that matches no file, and one
    missing source must not stop every other mart. The empty relation has exactly the columns
    declared for the source in _sources.yml (the raw-table contract plus the partition column). -#}
{% macro raw_source(table) -%}
    {%- set relation = source('raw', table) -%}
    {%- if execute and model.resource_type != 'unit_test' and not raw_files_exist(table) -%}
        {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', 'raw') | selectattr('name', 'equalto', table) | first -%}
        {%- do log("raw source " ~ table ~ " has no files yet; " ~ model.name ~ " reads it as empty", info=true) -%}
        (select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
        where false)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro raw_files_exist(table) -%}
    {%- set result = run_query("select count(*) from glob('" ~ raw_table_glob(table) ~ "')") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}
