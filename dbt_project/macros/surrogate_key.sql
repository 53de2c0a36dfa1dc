{# Deterministic md5 key of several columns; NULLs and separators cannot collide. #}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('-', {% for column in columns -%}
        coalesce(cast({{ column }} as varchar), '_null_'){{ ", " if not loop.last }}
    {%- endfor %}))
{%- endmacro %}
