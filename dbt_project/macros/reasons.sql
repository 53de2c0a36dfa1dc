{# The explanation JSON with reasons in plain words (anomaly_reasons, udf/reasons.py);
   unchanged when there is no model. #}
{% macro duckbert_reasons(explanation, items, available) -%}
    {%- if available -%}
        anomaly_reasons({{ explanation }}, {{ items }})
    {%- else -%}
        {{ explanation }}
    {%- endif -%}
{%- endmacro %}

{# A session's int_session_timeline rows as the JSON array anomaly_reasons reads
   (an aggregate; udf/reasons.py names the keys). #}
{% macro reason_items_json(timeline) -%}
    cast(to_json(list(json_object(
        'position', {{ timeline }}.text_position,
        'seq', {{ timeline }}.item_seq,
        'kind', {{ timeline }}.item_kind,
        'type', {{ timeline }}.item_type,
        't', epoch({{ timeline }}.item_time),
        'product', {{ timeline }}.product_id,
        'category', {{ timeline }}.category_code,
        'brand', {{ timeline }}.brand,
        'price', {{ timeline }}.price,
        'rating', {{ timeline }}.rating,
        'verified', {{ timeline }}.is_verified_purchase,
        'text', {{ timeline }}.review_text
    ) order by {{ timeline }}.item_seq)) as varchar)
{%- endmacro %}
