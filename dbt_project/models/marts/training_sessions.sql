with

sessions as (

    select * from {{ ref('sessions') }}

),

labels as (

    select * from {{ ref('stg_labels') }}

),

final as (

    select
        sessions.session_id,
        sessions.user_id,
        sessions.session_source,
        sessions.session_start,
        sessions.session_end,
        sessions.duration_seconds,
        sessions.n_events,
        {% for event_type in event_types() -%}
        sessions.n_{{ event_type }},
        {% endfor -%}
        sessions.n_products,
        sessions.n_categories,
        sessions.n_brands,
        sessions.price_min,
        sessions.price_max,
        sessions.price_mean,
        sessions.purchase_value,
        sessions.n_reviews,
        sessions.mean_rating,
        sessions.n_verified_reviews,
        sessions.session_text,
        sessions.text_format,
        sessions.n_text_segments,
        sessions.n_summarized_items,
        labels.is_anomaly,
        labels.label_source,
        labels.labelled_at,
        labels.anomaly_family,
        labels.anomaly_variant
    from sessions
    left join labels on sessions.session_id = labels.session_id

)

select * from final
