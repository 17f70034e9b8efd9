{#- The tickets a windowed run of the incremental Traffy models recomputes: every ticket (clean id)
    with a raw version captured in the window. Each is then rebuilt from all its versions, so a
    ticket that changed today gets the same row as a full rebuild would give it. -#}
{% macro traffy_window_ticket_ids() -%}
    select distinct {{ clean_text('ticket_id') }} as ticket_id
    from {{ raw_source('traffy_tickets') }}
    where {{ in_window('date') }} and {{ clean_text('ticket_id') }} is not null
{%- endmacro %}
