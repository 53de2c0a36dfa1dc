with

source as (

    select * from {{ duckbert_source('labels') }}

),

keyed as (

    select
        coalesce(session_id, user_session) as session_id,
        user_session,
        is_anomaly,
        coalesce(label_source, 'unknown') as label_source,
        labelled_at,
        json_extract_string(extra, '$.anomaly_family') as anomaly_family,
        json_extract_string(extra, '$.anomaly_variant') as anomaly_variant,
        extra,
        source_file,
        source_row,
        loaded_at
    from source

),

deduplicated as (

    -- one label per session: the most recently labelled (then loaded) one wins
    select *
    from keyed
    qualify
        row_number() over (
            partition by session_id
            order by labelled_at desc nulls last, loaded_at desc, source_file desc, source_row desc
        ) = 1

),

final as (

    select
        session_id,
        user_session,
        is_anomaly,
        label_source,
        labelled_at,
        nullif(anomaly_family, '') as anomaly_family,
        nullif(anomaly_variant, '') as anomaly_variant,
        extra,
        source_file,
        source_row
    from deduplicated

)

select * from final
