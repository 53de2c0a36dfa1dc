{%- set model_ready = duckbert_model_available() -%}

with

scores as (

    select * from {{ ref('session_scores') }}

),

sessions as (

    select * from {{ ref('sessions') }}

),

timeline as (

    select * from {{ ref('int_session_timeline') }}

),

model as (

    select
        {{ duckbert_model_version(model_ready) }} as model_version,
        {{ duckbert_threshold(model_ready) }} as threshold

),

flagged as (

    -- scores of the current model, for the session text as it is now, over the threshold
    select
        sessions.session_id,
        sessions.user_id,
        sessions.session_start,
        sessions.session_end,
        sessions.duration_seconds,
        sessions.n_events,
        sessions.n_purchase,
        sessions.n_reviews,
        scores.anomaly_score,
        model.threshold,
        scores.model_version,
        scores.scored_at,
        scores.explanation,
        sessions.session_text
    from scores
    inner join sessions
        on
            scores.session_id = sessions.session_id
            and scores.text_hash = md5(sessions.session_text)
    inner join model on scores.model_version = model.model_version
    where scores.anomaly_score >= model.threshold

),

reason_items as (

    -- the events and reviews of each flagged session, which the reasons are told from
    select
        timeline.session_id,
        {{ reason_items_json('timeline') }} as items
    from timeline
    inner join flagged on timeline.session_id = flagged.session_id
    group by timeline.session_id

),

explained as (

    -- anomaly_explain's JSON with a reason in plain words on each top event
    select
        flagged.session_id,
        {{ duckbert_reasons('flagged.explanation', 'reason_items.items', model_ready) }}
            as explanation
    from flagged
    -- read by duckbert_reasons, which has nothing to read while there is no model
    left join reason_items on flagged.session_id = reason_items.session_id  -- noqa: ST11

),

reasons as (

    -- the events whose occlusion lowered the score most
    select
        session_id,
        unnest(json_extract(explanation, '$.top_events[*]')) as top_event
    from explained

),

reason_texts as (

    select
        session_id,
        string_agg(
            coalesce(json_extract_string(top_event, '$.reason'), json_extract_string(top_event, '$.event'))
            || ' (+' || printf('%.3f', cast(json_extract(top_event, '$.delta') as double)) || ')',
            '; '
            order by
                cast(json_extract(top_event, '$.delta') as double) desc,
                cast(json_extract(top_event, '$.position') as integer) asc
        ) as top_reasons
    from reasons
    group by session_id

),

final as (

    select
        flagged.session_id,
        flagged.user_id,
        flagged.session_start,
        flagged.session_end,
        flagged.duration_seconds,
        flagged.n_events,
        flagged.n_purchase,
        flagged.n_reviews,
        flagged.anomaly_score,
        flagged.threshold,
        flagged.model_version,
        flagged.scored_at,
        coalesce(reason_texts.top_reasons, '') as top_reasons,
        explained.explanation,
        flagged.session_text
    from flagged
    left join explained on flagged.session_id = explained.session_id
    left join reason_texts on flagged.session_id = reason_texts.session_id

)

select * from final
