{#
    Drift since training: the current model's score distribution and the session lengths
    (n_events, length of session_text) compared with their training-time bins by population
    stability index; a failure row per metric that moved (macros/drift.sql).
    Warns by default; --vars '{drift_severity: error}' fails the build instead, and
    drift_psi_threshold / drift_min_sessions tune it. Rows are kept in the warehouse
    (store_failures): main_dbt_test__audit.duckbert_drift.
#}
{{ config(severity=var('drift_severity', 'warn'), store_failures=true) }}
-- depends_on: {{ ref('session_scores') }}
-- depends_on: {{ ref('sessions') }}
-- depends_on: {{ source('duckbert', 'duckbert_models') }}
-- depends_on: {{ source('duckbert', 'duckbert_model_baselines') }}

{{ duckbert_drift() }}
