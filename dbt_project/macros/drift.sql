{# True when the warehouse has drift baselines and a model catalog to pick the current ones. #}
{% macro duckbert_baselines_available() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
        "select count(distinct table_name) from information_schema.tables "
        ~ "where table_name in ('duckbert_models', 'duckbert_model_baselines')"
    ) -%}
    {{ return(found.columns[0].values()[0] == 2) }}
{%- endmacro %}

{#
    Population stability index of each drift metric: the warehouse now against the current
    model's training-time bins (duckbert_model_baselines). One row per metric whose PSI is over
    `threshold` (var drift_psi_threshold, default 0.2) with at least `min_sessions` current
    values (var drift_min_sessions, default 100). PSI = sum over bins of
    (now - then) * ln(now / then), shares floored at 0.0001 so an empty bin stays finite.
#}
{% macro duckbert_drift(threshold=none, min_sessions=none) -%}
    {%- set threshold = var('drift_psi_threshold', 0.2) if threshold is none else threshold -%}
    {%- set min_sessions = var('drift_min_sessions', 100) if min_sessions is none else min_sessions -%}
    {%- if duckbert_baselines_available() -%}

with

model as (

    select version
    from {{ source('duckbert', 'duckbert_models') }}
    where is_current

),

baseline as (

    select baselines.*
    from {{ source('duckbert', 'duckbert_model_baselines') }} as baselines
    inner join model on baselines.version = model.version

),

observed as (

    -- the current model's scores, and the lengths of the sessions as they are now
    select
        'anomaly_score' as metric,
        scores.anomaly_score as value
    from {{ ref('session_scores') }} as scores
    inner join model on scores.model_version = model.version
    where scores.anomaly_score is not null

    union all

    select
        'n_events' as metric,
        cast(n_events as double) as value
    from {{ ref('sessions') }}
    where n_events is not null

    union all

    select
        'text_length' as metric,
        cast(length(session_text) as double) as value
    from {{ ref('sessions') }}
    where session_text is not null

),

totals as (

    select
        metric,
        count(*) as n_current
    from observed
    group by metric

),

binned as (

    select
        baseline.metric,
        baseline.bin,
        count(observed.value) as current_count
    from baseline
    left join observed
        on
            baseline.metric = observed.metric
            and observed.value >= coalesce(baseline.lower_bound, cast('-infinity' as double))
            and observed.value < coalesce(baseline.upper_bound, cast('infinity' as double))
    group by baseline.metric, baseline.bin

),

shares as (

    select
        baseline.metric,
        baseline.version,
        baseline.bin,
        baseline.n_reference,
        totals.n_current,
        baseline.reference_share,
        binned.current_count / totals.n_current as current_share,
        '[' || coalesce(printf('%.4g', baseline.lower_bound), '-inf') || ', '
        || coalesce(printf('%.4g', baseline.upper_bound), 'inf') || ')' as bin_range,
        greatest(baseline.reference_share, 0.0001) as expected,
        greatest(binned.current_count / totals.n_current, 0.0001) as actual
    from baseline
    inner join binned on baseline.metric = binned.metric and baseline.bin = binned.bin
    inner join totals on baseline.metric = totals.metric

),

psi as (

    select
        metric,
        version as model_version,
        any_value(n_reference) as n_reference,
        any_value(n_current) as n_current,
        sum((actual - expected) * ln(actual / expected)) as psi,
        arg_max(bin_range, abs(current_share - reference_share)) as most_moved_bin,
        arg_max(reference_share, abs(current_share - reference_share)) as share_at_training,
        arg_max(current_share, abs(current_share - reference_share)) as share_now
    from shares
    group by metric, version

),

final as (

    select
        metric,
        model_version,
        round(psi, 4) as psi,
        {{ threshold }} as psi_threshold,
        n_reference,
        n_current,
        most_moved_bin,
        round(share_at_training, 4) as share_at_training,
        round(share_now, 4) as share_now,
        printf(
            '%s moved since %s was trained: PSI %.3f > %s; bin %s held %.1f%% then, %.1f%% now',
            metric, model_version, psi, '{{ threshold }}', most_moved_bin,
            100 * share_at_training, 100 * share_now
        ) as message
    from psi
    where n_current >= {{ min_sessions }} and psi > {{ threshold }}

)

select * from final
order by psi desc

{%- else -%}

-- no drift baselines yet (they are written by `duckbert train`): nothing to compare
select
    cast(null as varchar) as metric,
    cast(null as varchar) as model_version,
    cast(null as double) as psi,
    cast(null as varchar) as message
where false

{% endif -%}
{%- endmacro %}
