with

source as (

    select * from {{ duckbert_source('events') }}

),

normalized as (

    select
        event_time,
        {{ normalize_event_type('event_type') }} as event_type,
        product_id,
        category_id,
        {{ lower_or_unknown('category_code') }} as category_code,
        {{ lower_or_unknown('brand') }} as brand,
        {{ sane_price('price') }} as price,
        price as price_as_loaded,
        user_id,
        user_session,
        extra,
        source_file,
        source_row,
        loaded_at
    from source

),

deduplicated as (

    select *
    from normalized
    qualify
        row_number() over (
            partition by
                event_time, event_type, product_id, category_id, category_code, brand,
                price_as_loaded, user_id, user_session
            order by loaded_at, source_file, source_row
        ) = 1

),

final as (

    select
        {{ surrogate_key([
            'event_time', 'event_type', 'product_id', 'category_id', 'category_code',
            'brand', 'price_as_loaded', 'user_id', 'user_session'
        ]) }} as event_id,
        event_time,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        price_as_loaded is not null and price is null as is_price_nulled,
        user_id,
        user_session,
        extra,
        source_file,
        source_row
    from deduplicated

)

select * from final
