{{ config(materialized='table') }}

with

items as (

    select * from {{ ref('int_session_items') }}

),

events as (

    select * from {{ ref('int_sessions_events') }}

),

reviews as (

    select * from {{ ref('int_sessions_reviews') }}

),

texts as (

    select * from {{ ref('int_session_texts') }}

),

segment_starts as (

    -- the item that starts each text segment (docs/SESSION_TEXT.md, "Segments and items")
    select
        session_id,
        unnest(segment_starts) as item_seq
    from texts

),

final as (

    select
        items.session_id,
        items.item_seq,
        items.item_kind,
        items.item_type,
        items.item_id,
        items.item_time,
        items.gap_seconds,
        items.product_id,
        events.category_id,
        events.category_code,
        events.brand,
        events.price,
        reviews.rating,
        reviews.review_text,
        reviews.is_verified_purchase,
        -- the text segment that shows this item: how many segments start at or before it
        count(segment_starts.item_seq) over (
            partition by items.session_id order by items.item_seq
        ) as text_position
    from items
    left join events
        on items.item_kind = 'event' and items.item_id = events.event_id
    left join reviews
        on items.item_kind = 'review' and items.item_id = reviews.review_id
    left join segment_starts
        on items.session_id = segment_starts.session_id and items.item_seq = segment_starts.item_seq

)

select * from final
