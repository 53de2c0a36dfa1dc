{# Canonical event type: lower case, spaces/hyphens as underscores, synonyms mapped (mirrors udf/raw_contract.py). #}
{% macro normalize_event_type(column) -%}
    case regexp_replace(lower(trim({{ column }})), '[\s-]+', '_', 'g')
        when 'addtocart' then 'cart'
        when 'add_to_cart' then 'cart'
        when 'removefromcart' then 'remove_from_cart'
        when 'remove' then 'remove_from_cart'
        when 'transaction' then 'purchase'
        else regexp_replace(lower(trim({{ column }})), '[\s-]+', '_', 'g')
    end
{%- endmacro %}

{# The canonical event types, in funnel order (the tie-break for events at the same instant). #}
{% macro event_types() -%}
    {{ return(['view', 'click', 'cart', 'remove_from_cart', 'purchase']) }}
{%- endmacro %}
