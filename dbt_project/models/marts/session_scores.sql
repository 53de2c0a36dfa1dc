{{
    config(
        materialized='incremental',
        unique_key='session_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook="delete from {{ this }} where session_id not in "
            "(select session_id from {{ ref('sessions') }})"
    )
}}

{%- set model_ready = duckbert_model_available() -%}
{%- set ready_sql = 'true' if model_ready else 'false' -%}
{#- udf: anomaly_score() here; batch: take `duckbert score-dataset` output (docs/DISTRIBUTED.md) -#}
{%- set from_batch = duckbert_scores_from() == 'batch' -%}

with

sessions as (

    select
        session_id,
        user_id,
        session_text,
        md5(session_text) as text_hash
    from {{ ref('sessions') }}

),

model as (

    select
        {{ duckbert_model_version(model_ready) }} as model_version,
        {{ duckbert_threshold(model_ready) }} as threshold

),

to_score as (

    -- new sessions, sessions whose text changed, and all of them when the model changed
    select sessions.*
    from sessions
    {% if is_incremental() -%}
    left join {{ this }} as previous on sessions.session_id = previous.session_id
    where
        {{ ready_sql }}
        and (
            previous.session_id is null
            or previous.text_hash <> sessions.text_hash
            or previous.model_version is distinct from (select model.model_version from model)
        )
    {%- else -%}
    where {{ ready_sql }}
    {%- endif %}

),

{% if from_batch -%}
batch as (

    -- one score per session, text and model (the latest, should two runs overlap)
    select
        session_id,
        text_hash,
        model_version,
        anomaly_score,
        timezone('UTC', scored_at) as scored_at
    from {{ source('batch_scores', 'session_scores_batch') }}
    qualify
        row_number() over (
            partition by session_id, text_hash, model_version order by scored_at desc
        ) = 1

),

scored as materialized (

    -- only a score of the session's current text by the current model counts; a session
    -- without one stays unscored here until the next export picks it up
    select
        to_score.session_id,
        to_score.user_id,
        to_score.text_hash,
        to_score.session_text,
        batch.anomaly_score,
        batch.scored_at,
        model.model_version,
        model.threshold
    from to_score
    cross join model
    inner join batch
        on
            to_score.session_id = batch.session_id
            and to_score.text_hash = batch.text_hash
            and model.model_version = batch.model_version

),
{%- else %}
expected as materialized (

    -- announces the run's size, so the UDF's progress lines carry an estimate
    select {{ duckbert_progress_expect('(select count(*) from to_score)', model_ready) }}
        as rows_to_score

),

scored as materialized (

    select
        to_score.session_id,
        to_score.user_id,
        to_score.text_hash,
        to_score.session_text,
        {{ duckbert_score('to_score.session_text', model_ready) }} as anomaly_score,
        timezone('UTC', now()) as scored_at,
        model.model_version,
        model.threshold,
        expected.rows_to_score
    from expected
    cross join to_score
    cross join model

),
{%- endif %}

final as (

    select
        session_id,
        user_id,
        text_hash,
        anomaly_score,
        model_version,
        anomaly_score >= threshold as is_flagged,
        case
            when anomaly_score >= threshold
                then {{ duckbert_explain('session_text', model_ready) }}
        end as explanation,
        scored_at
    from scored

)

select * from final
