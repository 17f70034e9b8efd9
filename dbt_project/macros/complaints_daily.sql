{#- Daily complaint counts from one-row-per-ticket data (`tickets` relation/CTE with opened_date,
    closed_date, is_resolved, resolution_hours and the `dims` columns), for the days of the
    window: tickets opened, resolved, the backlog still open at the end of the day and the median
    resolution hours of the tickets resolved that day. The backlog counts every ticket opened on or
    before the day and not resolved by its end, so it is summed over the whole history, not only
    the window. Rows with nothing opened, resolved or open are left out when `dims` are given. -#}
{% macro complaints_daily(tickets, dims=[]) -%}
    {%- set dim_cols = dims | join(', ') -%}
    {%- set dim_select = (dim_cols ~ ', ') if dims else '' -%}
    {%- set partition = ('partition by ' ~ dim_cols) if dims else '' -%}
    {%- set join_on = [] -%}
    {%- for d in dims -%}{%- do join_on.append('spine.' ~ d ~ ' is not distinct from events.' ~ d) -%}{%- endfor -%}
    with

    opened as (
        select {{ dim_select }}opened_date as date, count(*) as opened, 0 as resolved,
            cast(null as double) as median_resolution_hours
        from {{ tickets }}
        where opened_date is not null
        group by all
    ),

    resolved as (
        select {{ dim_select }}closed_date as date, 0 as opened, count(*) as resolved,
            median(resolution_hours) as median_resolution_hours
        from {{ tickets }}
        where is_resolved and closed_date is not null
        group by all
    ),

    events as (
        select {{ dim_select }}date, sum(opened) as opened, sum(resolved) as resolved,
            max(median_resolution_hours) as median_resolution_hours
        from (select * from opened union all by name select * from resolved)
        group by all
    ),

    days as (
        {{ window_days("(select min(date) from events)", "(select max(date) from events)") }}
    ),

    {%- if dims %}
    groups as (
        select {{ dim_cols }}, min(date) as first_date from events group by all
    ),

    spine as (
        select days.date, {% for d in dims %}groups.{{ d }}{{ ", " if not loop.last }}{% endfor %}
        from days
        inner join groups on groups.first_date <= days.date
    ),
    {%- else %}
    spine as (
        select date from days
    ),
    {%- endif %}

    timeline as (
        select {{ dim_select }}date, opened, resolved, median_resolution_hours, false as in_window
        from events
        where date < (select min(date) from days)
        union all by name
        select
            {% for d in dims %}spine.{{ d }}, {% endfor %}spine.date,
            coalesce(events.opened, 0) as opened,
            coalesce(events.resolved, 0) as resolved,
            events.median_resolution_hours,
            true as in_window
        from spine
        left join events
            on spine.date = events.date
            {%- for condition in join_on %}
            and {{ condition }}
            {%- endfor %}
    ),

    cumulative as (
        select
            *,
            sum(opened - resolved) over (
                {{ partition }} order by date rows between unbounded preceding and current row
            ) as backlog_end_of_day
        from timeline
    )

    select
        date,
        {{ dim_select }}
        cast(opened as integer) as opened,
        cast(resolved as integer) as resolved,
        cast(backlog_end_of_day as integer) as backlog_end_of_day,
        round(median_resolution_hours, 2) as median_resolution_hours
    from cumulative
    where in_window
    {%- if dims %}
        and (opened > 0 or resolved > 0 or backlog_end_of_day > 0)
    {%- endif %}
{%- endmacro %}
