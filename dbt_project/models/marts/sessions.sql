with

stats as (

    select * from {{ ref('int_session_stats') }}

),

texts as (

    select * from {{ ref('int_session_texts') }}

),

final as (

    select
        stats.session_id,
        stats.user_id,
        stats.session_source,
        stats.session_start,
        stats.session_end,
        stats.duration_seconds,
        stats.n_events,
        {% for event_type in event_types() -%}
        stats.n_{{ event_type }},
        {% endfor -%}
        stats.n_products,
        stats.n_categories,
        stats.n_brands,
        stats.price_min,
        stats.price_max,
        stats.price_mean,
        stats.purchase_value,
        stats.n_reviews,
        stats.mean_rating,
        stats.n_verified_reviews,
        texts.session_text,
        {{ session_text_version() }} as text_format,
        texts.n_text_segments,
        texts.n_summarized_items
    from stats
    inner join texts on stats.session_id = texts.session_id

)

select * from final
