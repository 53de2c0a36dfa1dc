{# True when a duckbert model can score: a current row in duckbert_models, or DUCKBERT_MODEL is set. #}
{% macro duckbert_model_available() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if env_var('DUCKBERT_MODEL', '') | trim | length > 0 -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set table_found = run_query(
        "select count(*) from information_schema.tables where table_name = 'duckbert_models'"
    ) -%}
    {%- if table_found.columns[0].values()[0] == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set current = run_query("select count(*) from duckbert_models where is_current") -%}
    {{ return(current.columns[0].values()[0] > 0) }}
{%- endmacro %}

{# The scoring model's version as SQL: from anomaly_model(), or a typed NULL when there is no model. #}
{% macro duckbert_model_version(available) -%}
    {%- if available -%}
        json_extract_string(anomaly_model(), '$.version')
    {%- else -%}
        cast(null as varchar)
    {%- endif -%}
{%- endmacro %}

{# The model's calibrated threshold as SQL, or a typed NULL when there is no model. #}
{% macro duckbert_threshold(available) -%}
    {%- if available -%}
        anomaly_threshold()
    {%- else -%}
        cast(null as double)
    {%- endif -%}
{%- endmacro %}

{# anomaly_score(text) as SQL, or a typed NULL when there is no model. #}
{% macro duckbert_score(text, available) -%}
    {%- if available -%}
        anomaly_score({{ text }})
    {%- else -%}
        cast(null as double)
    {%- endif -%}
{%- endmacro %}

{# duckbert_progress_expect(n) as SQL (progress lines with an estimate), or n without a model. #}
{% macro duckbert_progress_expect(n, available) -%}
    {%- if available -%}
        duckbert_progress_expect({{ n }})
    {%- else -%}
        {{ n }}
    {%- endif -%}
{%- endmacro %}

{# anomaly_explain(text) JSON as SQL, or a typed NULL when there is no model. #}
{% macro duckbert_explain(text, available) -%}
    {%- if available -%}
        anomaly_explain({{ text }})
    {%- else -%}
        cast(null as varchar)
    {%- endif -%}
{%- endmacro %}

{# Where session_scores takes its scores: var scores_from, 'udf' (default) or 'batch'. #}
{% macro duckbert_scores_from() -%}
    {%- set value = var('scores_from', 'udf') | string | lower -%}
    {%- if execute and value not in ('udf', 'batch') -%}
        {{ exceptions.raise_compiler_error(
            "var scores_from must be 'udf' (anomaly_score() in the build) or 'batch' "
            ~ "(the output of duckbert score-dataset), got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
