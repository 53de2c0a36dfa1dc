with

source as (

    select * from {{ duckbert_source('reviews') }}

),

keyed as (

    select
        coalesce(
            review_id,
            {{ surrogate_key(['user_id', 'product_id', 'rating', 'review_text', 'created_at']) }}
        ) as review_id,
        review_id is null as is_review_id_derived,
        user_id,
        product_id,
        rating,
        review_text,
        created_at,
        user_session,
        extra,
        source_file,
        source_row,
        loaded_at
    from source

),

deduplicated as (

    -- exact duplicates share a review_id; a review_id loaded again with other content keeps
    -- its latest version (latest load, then the later file and row)
    select *
    from keyed
    qualify
        row_number() over (
            partition by review_id
            order by loaded_at desc, source_file desc, source_row desc
        ) = 1

),

final as (

    select
        review_id,
        is_review_id_derived,
        user_id,
        product_id,
        rating,
        coalesce(review_text, '') as review_text,
        created_at,
        user_session,
        extra,
        source_file,
        source_row
    from deduplicated

)

select * from final
