with

flagged as (

    select * from {{ ref('flagged_sessions') }}

),

sessions as (

    select * from {{ ref('sessions') }}

),

session_counts as (

    select
        user_id,
        count(*) as sessions_total
    from sessions
    group by user_id

),

top_events as (

    select
        user_id,
        unnest(json_extract(explanation, '$.top_events[*]')) as top_event
    from flagged

),

reasons as (

    -- the reason in plain words, or the segment text where the rows to tell it were missing
    select
        user_id,
        coalesce(
            json_extract_string(top_event, '$.reason'), json_extract_string(top_event, '$.event')
        ) as reason
    from top_events

),

reason_counts as (

    select
        user_id,
        reason,
        count(*) as n_sessions
    from reasons
    group by user_id, reason
    qualify
        row_number() over (
            partition by user_id order by count(*) desc, reason asc
        ) <= {{ var('flagged_user_reasons', 3) }}

),

user_reasons as (

    select
        user_id,
        string_agg(
            reason || ' (' || n_sessions || ' session' || case when n_sessions > 1 then 's' else '' end || ')',
            '; ' order by n_sessions desc, reason asc
        ) as top_reasons
    from reason_counts
    group by user_id

),

per_user as (

    select
        user_id,
        count(*) as sessions_flagged,
        max(anomaly_score) as max_score,
        avg(anomaly_score) as mean_score,
        min(session_start) as first_flagged_at,
        max(session_end) as last_flagged_at,
        max(scored_at) as last_scored_at,
        any_value(model_version) as model_version
    from flagged
    group by user_id

),

final as (

    select
        per_user.user_id,
        per_user.sessions_flagged,
        session_counts.sessions_total,
        per_user.sessions_flagged / session_counts.sessions_total as share_flagged,
        per_user.max_score,
        per_user.mean_score,
        per_user.first_flagged_at,
        per_user.last_flagged_at,
        per_user.last_scored_at,
        per_user.model_version,
        coalesce(user_reasons.top_reasons, '') as top_reasons
    from per_user
    inner join session_counts on per_user.user_id = session_counts.user_id
    left join user_reasons on per_user.user_id = user_reasons.user_id

)

select * from final
