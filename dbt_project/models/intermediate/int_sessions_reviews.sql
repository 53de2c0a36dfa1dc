with

reviews as (

    select * from {{ ref('stg_reviews') }}

),

events as (

    select * from {{ ref('int_sessions_events') }}

),

shared_user_sessions as (

    {{ shared_user_sessions() }}

),

purchases as (

    select
        user_id,
        product_id,
        min(event_time) as first_purchase_at
    from events
    where event_type = 'purchase'
    group by user_id, product_id

),

session_bounds as (

    select
        session_id,
        user_id,
        min(event_time) as session_start,
        max(event_time) as session_end
    from events
    group by session_id, user_id

),

by_user_session as (

    -- the session the source names: the same session_id as its events, or its own
    select
        reviews.review_id,
        {{ given_session_id(
            'reviews.user_session', 'reviews.user_id', 'shared_user_sessions.user_session'
        ) }} as session_id,
        'user_session' as review_join
    from reviews
    left join shared_user_sessions
        on reviews.user_session = shared_user_sessions.user_session
    where reviews.user_session is not null

),

time_candidates as (

    -- no user_session: the user's sessions around created_at, within a slack
    select
        reviews.review_id,
        session_bounds.session_id,
        reviews.created_at between session_bounds.session_start and session_bounds.session_end
            as is_inside,
        least(
            abs(epoch(reviews.created_at) - epoch(session_bounds.session_start)),
            abs(epoch(reviews.created_at) - epoch(session_bounds.session_end))
        ) as distance_seconds
    from reviews
    inner join session_bounds
        on
            reviews.user_id = session_bounds.user_id
            and reviews.created_at
            >= session_bounds.session_start - interval ({{ var('review_slack_minutes', 10) }}) minute
            and reviews.created_at
            <= session_bounds.session_end + interval ({{ var('review_slack_minutes', 10) }}) minute
    where reviews.user_session is null

),

by_time as (

    -- the session that contains the review, else the nearest one
    select
        review_id,
        session_id,
        'time' as review_join
    from time_candidates
    qualify
        row_number() over (
            partition by review_id
            order by is_inside desc, distance_seconds asc, session_id asc
        ) = 1

),

unmatched as (

    select reviews.*
    from reviews
    left join by_time on reviews.review_id = by_time.review_id
    where reviews.user_session is null and by_time.review_id is null

),

own_sessions as (

    -- reviews outside every session form review-only sessions, split by the same gap rule
    select
        review_id,
        user_id,
        created_at,
        sum(is_session_start) over (
            partition by user_id
            order by created_at, review_id
            rows between unbounded preceding and current row
        ) as session_number
    from (
        select
            *,
            {{ new_session_flag('created_at', 'user_id', 'created_at, review_id') }}
                as is_session_start
        from unmatched
    ) as flagged

),

by_own_session as (

    select
        review_id,
        {{ derived_session_id(
            'reviews', 'user_id',
            'min(created_at) over (partition by user_id, session_number)'
        ) }} as session_id,
        'own_session' as review_join
    from own_sessions

),

assigned as (

    select * from by_user_session
    union all
    select * from by_time
    union all
    select * from by_own_session

),

final as (

    select
        reviews.review_id,
        assigned.session_id,
        assigned.review_join,
        reviews.user_id,
        reviews.product_id,
        reviews.rating,
        reviews.review_text,
        reviews.created_at,
        coalesce(purchases.first_purchase_at <= reviews.created_at, false)
            as is_verified_purchase,
        reviews.user_session,
        reviews.source_file,
        reviews.source_row
    from reviews
    inner join assigned on reviews.review_id = assigned.review_id
    left join purchases
        on
            reviews.user_id = purchases.user_id
            and reviews.product_id = purchases.product_id

)

select * from final
