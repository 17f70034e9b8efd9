{#- Daily incremental models: the Dagster partition window arrives as
        --vars '{"min_date": "YYYY-MM-DD", "max_date": "YYYY-MM-DD"}'   (inclusive, city-local)
    A run selects only the window's days and the `window_replace` strategy deletes exactly those
    days from the table before inserting them, so a partition re-run replaces its days and a
    day with no rows left is emptied too. Without the vars, every day is (re)built. -#}

{% macro window_bounds() -%}
    {%- set min_date = var('min_date', none) -%}
    {%- set max_date = var('max_date', none) -%}
    {%- if (min_date is none) != (max_date is none) -%}
        {{ exceptions.raise_compiler_error("set both min_date and max_date, or neither") }}
    {%- endif -%}
    {%- if min_date is not none and min_date | string > max_date | string -%}
        {{ exceptions.raise_compiler_error("min_date " ~ min_date ~ " is after max_date " ~ max_date) }}
    {%- endif -%}
    {{ return((min_date, max_date)) }}
{%- endmacro %}

{#- `date_expr` inside the window, widened by `pad_days` (e.g. a trailing 8-hour mean needs the
    day before). TRUE when no window is set. -#}
{% macro in_window(date_expr, pad_days=0) -%}
    {%- set min_date, max_date = window_bounds() -%}
    {%- if min_date is none -%}
        true
    {%- else -%}
        {#- date +/- integer stays a DATE (an interval would make it a TIMESTAMP, and DuckDB
            then filters after the staging dedupe windows instead of below them) -#}
        {{ date_expr }} between date '{{ min_date }}' - {{ pad_days }} and date '{{ max_date }}' + {{ pad_days }}
    {%- endif -%}
{%- endmacro %}

{#- The days of the window (a spine), or of the given bounds when no window is set. -#}
{% macro window_days(default_min_expr, default_max_expr) -%}
    {%- set min_date, max_date = window_bounds() -%}
    {%- if min_date is none -%}
        select cast(unnest(generate_series(({{ default_min_expr }}), ({{ default_max_expr }}), interval 1 day)) as date) as date
    {%- else -%}
        select cast(unnest(generate_series(date '{{ min_date }}', date '{{ max_date }}', interval 1 day)) as date) as date
    {%- endif -%}
{%- endmacro %}

{#- Custom incremental strategy `window_replace` (config: window_column). Runs inside the
    incremental materialization's transaction. -#}
{% macro get_incremental_window_replace_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    {%- set column = config.require('window_column') -%}
    {%- set min_date, max_date = window_bounds() -%}
    delete from {{ target }}
    {%- if min_date is none %}
    where {{ column }} in (select distinct {{ column }} from {{ source }});
    {%- else %}
    where {{ column }} between date '{{ min_date }}' and date '{{ max_date }}';
    {%- endif %}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};
{%- endmacro %}

{#- Custom incremental strategy `key_replace` (config: unique_key, one column) for models with one
    row per key (a ticket) whose rows are recomputed whole from every version of the key: with a
    window, the model selects only the keys that changed in it, and their rows are deleted and
    inserted again; without a window (a bare `dbt build`, or a Dagster run without a partition) the
    model selects every key and the table is replaced whole, exactly like a full refresh (a key
    that has gone from raw disappears too). Runs inside the incremental materialization's
    transaction. -#}
{% macro get_incremental_key_replace_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    {%- set key = config.require('unique_key') -%}
    {%- set min_date, max_date = window_bounds() -%}
    delete from {{ target }}
    {%- if min_date is not none %}
    where {{ key }} in (select {{ key }} from {{ source }})
    {%- endif %};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};
{%- endmacro %}

{#- Data tests of large tables check only the window's rows on a windowed run and every row
    otherwise: a test's `where` config may contain `__in_window__(<column>)`, replaced here by
    in_window(<column>) (`true` without a window). The rest is dbt's own get_where_subquery. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set ns = namespace(where=where) -%}
        {%- for column in modules.re.findall('__in_window__\(([^)]*)\)', where) -%}
            {%- set ns.where = ns.where | replace('__in_window__(' ~ column ~ ')', in_window(column | trim) | trim) -%}
        {%- endfor -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ ns.where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
