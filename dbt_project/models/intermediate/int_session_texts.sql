{%- set budget = var('session_text_budget', 230) -%}
{%- set head = var('session_text_head', 3) -%}
{%- set summary_reserve = 16 -%}

with

items as (

    select * from {{ ref('int_session_items') }}

),

stats as (

    select * from {{ ref('int_session_stats') }}

),

islands as (

    -- consecutive identical segments form a run (gaps and islands)
    select
        *,
        item_seq - row_number() over (
            partition by session_id, segment order by item_seq
        ) as island
    from items

),

runs as (

    select
        session_id,
        island,
        segment,
        min(item_seq) as first_seq,
        count(*) as n_items,
        {% for item_type, suffix, word in item_types() -%}
        count(*) filter (where item_type = '{{ item_type }}') as m_{{ suffix }},
        {% endfor -%}
        min(item_time) as first_time,
        max(item_time) as last_time
    from islands
    group by session_id, island, segment

),

segments as (

    select
        *,
        case when n_items > 1 then segment || ' x' || n_items else segment end as segment_text,
        row_number() over (partition by session_id order by first_seq) as seg_no
    from runs

),

costed as (

    select
        *,
        {{ estimated_tokens('segment_text') }} as est_tokens
    from segments

),

budgeted as (

    select
        costed.*,
        sum(costed.est_tokens) over (partition by costed.session_id) as est_total,
        sum(costed.est_tokens) over (
            partition by costed.session_id
            order by costed.seg_no desc
            rows between unbounded preceding and current row
        ) as est_from_end,
        coalesce(sum(costed.est_tokens) filter (where costed.seg_no <= {{ head }}) over (
            partition by costed.session_id
        ), 0) as est_head,
        {{ estimated_tokens('stats.header_text') }} as est_header
    from costed
    inner join stats on costed.session_id = stats.session_id

),

placed as (

    select
        *,
        case
            when est_header + est_total <= {{ budget }} then true
            when seg_no <= {{ head }} then true
            when est_from_end <= {{ budget }} - est_header - est_head - {{ summary_reserve }}
                then true
            else false
        end as is_kept
    from budgeted

),

middles as (

    select
        session_id,
        min(first_seq) as first_seq,
        sum(n_items) as n_items,
        {% for column, word in item_count_words('m_') -%}
        sum({{ column }}) as {{ column }},
        {% endfor -%}
        epoch(max(last_time)) - epoch(min(first_time)) as span_seconds
    from placed
    where not is_kept
    group by session_id

),

pieces as (

    select
        session_id,
        cast(seg_no as double) as piece_position,
        first_seq,
        segment_text as piece
    from placed
    where is_kept

    union all

    select
        session_id,
        {{ head }} + 0.5 as piece_position,
        first_seq,
        {{ middle_summary('n_items', 'span_seconds') }} as piece
    from middles

),

bodies as (

    select
        session_id,
        string_agg(piece, ' | ' order by piece_position) as body_text,
        -- the link from a text segment to its items: segment k (after the header) starts
        -- at item_seq segment_starts[k] and runs to the next one's start
        list(first_seq order by piece_position) as segment_starts,
        count(*) as n_segments
    from pieces
    group by session_id

),

review_parts as (

    -- st2: every review's words after the behaviour, in session order
    select
        session_id,
        string_agg(review_part, ' | ' order by item_seq) as reviews_text
    from items
    where review_part is not null
    group by session_id

),

final as (

    select
        stats.session_id,
        concat_ws(' | ', stats.header_text, bodies.body_text)
        || {{ reviews_suffix('review_parts.reviews_text') }} as session_text,
        coalesce(bodies.n_segments, 0) + 1 as n_text_segments,
        coalesce(bodies.segment_starts, []) as segment_starts,
        cast(coalesce(middles.n_items, 0) as bigint) as n_summarized_items
    from stats
    left join bodies on stats.session_id = bodies.session_id
    left join middles on stats.session_id = middles.session_id
    left join review_parts on stats.session_id = review_parts.session_id

)

select * from final
