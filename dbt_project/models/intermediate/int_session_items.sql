with

events as (

    select * from {{ ref('int_sessions_events') }}

),

events_in_context as (

    -- what the previous event of the session was: a segment writes only what changed
    select
        *,
        lag(product_id) over (partition by session_id order by event_seq) as previous_product_id,
        lag({{ category_key('category_code', 'category_id') }}) over (
            partition by session_id order by event_seq
        ) as previous_category,
        lag(brand) over (partition by session_id order by event_seq) as previous_brand
    from events

),

reviews as (

    select * from {{ ref('int_sessions_reviews') }}

),

review_counts as (

    select
        session_id,
        count(*) as n_reviews
    from reviews
    group by session_id

),

items as (

    select
        session_id,
        'event' as item_kind,
        event_type as item_type,
        event_time as item_time,
        0 as kind_rank,
        event_seq as kind_seq,
        event_id as item_id,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        cast(null as integer) as rating,
        cast(null as varchar) as review_text,
        cast(null as boolean) as is_verified_purchase,
        0 as review_word_limit,
        previous_product_id,
        previous_category,
        previous_brand
    from events_in_context

    union all

    select
        reviews.session_id,
        'review' as item_kind,
        'review' as item_type,
        reviews.created_at as item_time,
        1 as kind_rank,
        row_number() over (
            partition by reviews.session_id order by reviews.created_at, reviews.review_id
        ) as kind_seq,
        reviews.review_id as item_id,
        reviews.product_id,
        cast(null as varchar) as category_id,
        cast(null as varchar) as category_code,
        cast(null as varchar) as brand,
        cast(null as double) as price,
        reviews.rating,
        reviews.review_text,
        reviews.is_verified_purchase,
        {{ review_word_limit('review_counts.n_reviews') }} as review_word_limit,
        cast(null as varchar) as previous_product_id,
        cast(null as varchar) as previous_category,
        cast(null as varchar) as previous_brand
    from reviews
    inner join review_counts on reviews.session_id = review_counts.session_id

),

sequenced as (

    select
        *,
        row_number() over (
            partition by session_id order by item_time, kind_rank, kind_seq
        ) as item_seq,
        epoch(item_time) - epoch(lag(item_time) over (
            partition by session_id order by item_time, kind_rank, kind_seq
        )) as gap_seconds
    from items

),

final as (

    select
        session_id,
        item_seq,
        item_kind,
        item_type,
        item_id,
        item_time,
        gap_seconds,
        product_id,
        case item_kind
            when 'event' then {{ event_segment(
                'gap_seconds', 'item_type', 'product_id', 'previous_product_id',
                'category_code', 'category_id', 'previous_category', 'brand', 'previous_brand',
                'price'
            ) }}
            else {{ review_segment(
                'gap_seconds', 'rating', 'is_verified_purchase', 'review_text',
                'review_word_limit'
            ) }}
        end as segment,
        case when item_kind = 'review' then {{ review_part(
            'rating', 'is_verified_purchase', 'review_text', 'review_word_limit'
        ) }} end as review_part
    from sequenced

)

select * from final
