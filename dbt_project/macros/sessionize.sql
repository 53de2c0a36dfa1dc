{# 1 when a row starts a new session: first of its partition or after more than the gap (minutes). #}
{% macro new_session_flag(time_column, partition_by, order_by, gap_minutes=none) -%}
    {%- set gap = gap_minutes if gap_minutes is not none else var('session_gap_minutes', 30) -%}
    case
        when lag({{ time_column }}) over (
            partition by {{ partition_by }} order by {{ order_by }}
        ) is null then 1
        when {{ time_column }} - lag({{ time_column }}) over (
            partition by {{ partition_by }} order by {{ order_by }}
        ) > interval ({{ gap }}) minute then 1
        else 0
    end
{%- endmacro %}

{# Deterministic id of a derived session: md5 of its kind, user and start time. #}
{% macro derived_session_id(kind, user_column, start_column) -%}
    md5(concat_ws('|', '{{ kind }}', {{ user_column }}, strftime({{ start_column }}, '%Y-%m-%dT%H:%M:%S.%f')))
{%- endmacro %}

{# Whole seconds between two timestamps. #}
{% macro seconds_between(start_column, end_column) -%}
    cast(epoch({{ end_column }}) - epoch({{ start_column }}) as bigint)
{%- endmacro %}

{# The user_session values that several users share (from events and reviews): those are split per user. #}
{% macro shared_user_sessions() -%}
    select user_session
    from (
        select user_session, user_id from {{ ref('stg_events') }} where user_session is not null
        union
        select user_session, user_id from {{ ref('stg_reviews') }} where user_session is not null
    ) as pairs
    group by user_session
    having count(distinct user_id) > 1
{%- endmacro %}

{# session_id of a row with a user_session: the user_session itself, or user_session:user_id when shared. #}
{% macro given_session_id(user_session, user_id, shared_user_session) -%}
    case
        when {{ shared_user_session }} is null then {{ user_session }}
        else {{ user_session }} || ':' || {{ user_id }}
    end
{%- endmacro %}
