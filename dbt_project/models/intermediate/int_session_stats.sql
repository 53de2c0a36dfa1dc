with

events as (

    select * from {{ ref('int_sessions_events') }}

),

reviews as (

    select * from {{ ref('int_sessions_reviews') }}

),

event_stats as (

    select
        session_id,
        any_value(user_id) as user_id,
        any_value(session_source) as session_source,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        count(*) as n_events,
        {% for event_type in event_types() -%}
        count(*) filter (where event_type = '{{ event_type }}') as n_{{ event_type }},
        {% endfor -%}
        count(distinct product_id) as n_products,
        count(distinct coalesce(category_id, category_code)) as n_categories,
        count(distinct case when brand <> 'unknown' then brand end) as n_brands,
        min(price) as price_min,
        max(price) as price_max,
        avg(price) as price_mean,
        coalesce(sum(price) filter (where event_type = 'purchase'), 0) as purchase_value
    from events
    group by session_id

),

review_stats as (

    select
        session_id,
        any_value(user_id) as user_id,
        any_value(case review_join when 'own_session' then 'reviews' else 'user_session' end)
            as session_source,
        min(created_at) as first_review_at,
        max(created_at) as last_review_at,
        count(*) as n_reviews,
        avg(rating) as mean_rating,
        count(*) filter (where is_verified_purchase) as n_verified_reviews
    from reviews
    group by session_id

),

combined as (

    select
        coalesce(event_stats.session_id, review_stats.session_id) as session_id,
        coalesce(event_stats.user_id, review_stats.user_id) as user_id,
        coalesce(event_stats.session_source, review_stats.session_source) as session_source,
        least(event_stats.first_event_at, review_stats.first_review_at) as session_start,
        greatest(event_stats.last_event_at, review_stats.last_review_at) as session_end,
        coalesce(event_stats.n_events, 0) as n_events,
        {% for event_type in event_types() -%}
        coalesce(event_stats.n_{{ event_type }}, 0) as n_{{ event_type }},
        {% endfor -%}
        coalesce(event_stats.n_products, 0) as n_products,
        coalesce(event_stats.n_categories, 0) as n_categories,
        coalesce(event_stats.n_brands, 0) as n_brands,
        event_stats.price_min,
        event_stats.price_max,
        event_stats.price_mean,
        coalesce(event_stats.purchase_value, 0) as purchase_value,
        coalesce(review_stats.n_reviews, 0) as n_reviews,
        review_stats.mean_rating,
        coalesce(review_stats.n_verified_reviews, 0) as n_verified_reviews
    from event_stats
    full outer join review_stats on event_stats.session_id = review_stats.session_id

),

timed as (

    select
        *,
        cast(floor(epoch(session_end) - epoch(session_start)) as bigint) as duration_seconds
    from combined

),

final as (

    select
        *,
        {{ session_header(
            'duration_seconds', 'n_events', 'n_products', 'n_categories', 'n_brands'
        ) }} as header_text
    from timed

)

select * from final
