{# A price, or NULL when it is negative or absurd (above var max_sane_price, default 100000). #}
{% macro sane_price(column) -%}
    case
        when {{ column }} >= 0 and {{ column }} <= {{ var('max_sane_price', 100000) }}
            then {{ column }}
    end
{%- endmacro %}

{# Lower-cased text with empty and NULL values as 'unknown' (for values a session text needs). #}
{% macro lower_or_unknown(column) -%}
    coalesce(nullif(lower(trim({{ column }})), ''), 'unknown')
{%- endmacro %}
