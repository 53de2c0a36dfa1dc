{{ config(materialized='table') }}

with

events as (

    select * from {{ ref('stg_events') }}

),

funnel_ranked as (

    select
        *,
        case event_type
            {% for event_type in event_types() -%}
            when '{{ event_type }}' then {{ loop.index }}
            {% endfor -%}
        end as funnel_rank
    from events

),

shared_user_sessions as (

    -- a user_session that several users share is split per user
    {{ shared_user_sessions() }}

),

given as (

    select
        funnel_ranked.*,
        {{ given_session_id(
            'funnel_ranked.user_session', 'funnel_ranked.user_id',
            'shared_user_sessions.user_session'
        ) }} as session_id,
        'user_session' as session_source
    from funnel_ranked
    left join shared_user_sessions
        on funnel_ranked.user_session = shared_user_sessions.user_session
    where funnel_ranked.user_session is not null

),

gap_flagged as (

    select
        *,
        {{ new_session_flag('event_time', 'user_id', 'event_time, funnel_rank, event_id') }}
            as is_session_start
    from funnel_ranked
    where user_session is null

),

gap_numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by user_id
            order by event_time, funnel_rank, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from gap_flagged

),

gap_sessions as (

    select
        * exclude (is_session_start, session_number),
        {{ derived_session_id(
            'gap', 'user_id',
            'min(event_time) over (partition by user_id, session_number)'
        ) }} as session_id,
        'gap' as session_source
    from gap_numbered

),

sessionized as (

    select * from given
    union all by name
    select * from gap_sessions

),

final as (

    select
        event_id,
        session_id,
        session_source,
        user_id,
        row_number() over (
            partition by session_id order by event_time, funnel_rank, event_id
        ) as event_seq,
        event_time,
        min(event_time) over (partition by session_id) as session_start,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_session,
        source_file,
        source_row
    from sessionized

)

select * from final
