{# The session_text formats this package renders; the first is the default. #}
{% macro session_text_formats() -%}
    {{ return(['st2', 'st1']) }}
{%- endmacro %}

{# Format to render: var session_text_format (st2 by default; st1 for models trained on it). #}
{% macro session_text_format() -%}
    {%- set value = var('session_text_format', session_text_formats()[0]) | string | lower -%}
    {%- if execute and value not in session_text_formats() -%}
        {{ exceptions.raise_compiler_error(
            "var session_text_format must be one of " ~ session_text_formats() | join(', ')
            ~ " (docs/SESSION_TEXT.md), got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{# Version of the session_text format as SQL; stored in sessions.text_format and in each model artifact. #}
{% macro session_text_version() -%}
    '{{ session_text_format() }}'
{%- endmacro %}

{# Time since the previous item as a band named by its lower edge: 0s 1s 2s 5s 10s 30s 1m 3m 10m 30m 2h 1d. #}
{% macro gap_band(seconds) -%}
    case
        when {{ seconds }} is null then null
        when {{ seconds }} < 1 then '0s'
        when {{ seconds }} < 2 then '1s'
        when {{ seconds }} < 5 then '2s'
        when {{ seconds }} < 10 then '5s'
        when {{ seconds }} < 30 then '10s'
        when {{ seconds }} < 60 then '30s'
        when {{ seconds }} < 180 then '1m'
        when {{ seconds }} < 600 then '3m'
        when {{ seconds }} < 1800 then '10m'
        when {{ seconds }} < 7200 then '30m'
        when {{ seconds }} < 86400 then '2h'
        else '1d'
    end
{%- endmacro %}

{# Price as one word: tiny < 5 <= cheap < 20 <= low < 60 <= mid < 200 <= high < 600 <= luxury. #}
{% macro price_band(price) -%}
    case
        when {{ price }} is null then null
        when {{ price }} < 5 then 'tiny'
        when {{ price }} < 20 then 'cheap'
        when {{ price }} < 60 then 'low'
        when {{ price }} < 200 then 'mid'
        when {{ price }} < 600 then 'high'
        else 'luxury'
    end
{%- endmacro %}

{# A duration in its largest whole unit: 45s, 12m (under 2 hours), 5h (under 2 days), 3d. #}
{% macro duration_text(seconds) -%}
    case
        when {{ seconds }} < 60 then cast(floor({{ seconds }}) as bigint) || 's'
        when {{ seconds }} < 7200 then cast(floor({{ seconds }} / 60) as bigint) || 'm'
        when {{ seconds }} < 172800 then cast(floor({{ seconds }} / 3600) as bigint) || 'h'
        else cast(floor({{ seconds }} / 86400) as bigint) || 'd'
    end
{%- endmacro %}

{# Event type as one word: remove_from_cart reads "remove". #}
{% macro event_word(event_type) -%}
    case {{ event_type }} when 'remove_from_cart' then 'remove' else {{ event_type }} end
{%- endmacro %}

{# Category leaf of the dotted code (underscores as spaces), else c + the id's last 3 characters ("|" as a space). #}
{% macro category_word(category_code, category_id) -%}
    case
        when {{ category_code }} <> 'unknown'
            then translate(regexp_extract({{ category_code }}, '[^.]+$'), '_|', '  ')
        when {{ category_id }} is not null then 'c' || translate(right({{ category_id }}, 3), '|', ' ')
    end
{%- endmacro %}

{# One event: [gap] type, then "same" (the previous event's product) or [next] [category] [brand] price;
   category and brand are written only when they differ from the previous event's. #}
{% macro event_segment(
    gap_seconds, event_type, product_id, previous_product_id, category_code, category_id,
    previous_category, brand, previous_brand, price
) -%}
    concat_ws(
        ' ',
        {{ gap_band(gap_seconds) }},
        {{ event_word(event_type) }},
        case
            when {{ product_id }} = {{ previous_product_id }} then 'same'
            else nullif(concat_ws(
                ' ',
                case
                    when try_cast({{ product_id }} as hugeint)
                        - try_cast({{ previous_product_id }} as hugeint) between 1 and 5
                        then 'next'
                end,
                case
                    when {{ category_key(category_code, category_id) }} is distinct from {{ previous_category }}
                        then {{ category_word(category_code, category_id) }}
                end,
                case
                    when {{ brand }} <> 'unknown' and {{ brand }} is distinct from {{ previous_brand }}
                        then replace({{ brand }}, '|', ' ')
                end,
                {{ price_band(price) }}
            ), '')
        end
    )
{%- endmacro %}

{# What makes two events the same category: the category id, else the code. #}
{% macro category_key(category_code, category_id) -%}
    coalesce({{ category_id }}, {{ category_code }})
{%- endmacro %}

{# The first `max_words` words of free text, lower case, with "|" and runs of whitespace as one space. #}
{% macro first_words(text, max_words) -%}
    nullif(array_to_string(list_slice(string_split(
        trim(regexp_replace(lower({{ text }}), '[|\s]+', ' ', 'g')), ' '
    ), 1, {{ max_words }}), ' '), '')
{%- endmacro %}

{# One review in the timeline: [gap] review rating [verified], then (st1 only) its first
   `max_words` words; st2 writes the words in the reviews part instead (review_part). #}
{% macro review_segment(gap_seconds, rating, is_verified, review_text, max_words) -%}
    {%- set words = first_words(review_text, max_words) if session_text_format() == 'st1'
        else 'cast(null as varchar)' -%}
    concat_ws(
        ' ',
        {{ gap_band(gap_seconds) }},
        'review',
        cast({{ rating }} as varchar),
        case when {{ is_verified }} then 'verified' end,
        {{ words }}
    )
{%- endmacro %}

{# st2: one review in the reviews part, "review rating [verified] <its words>". #}
{% macro review_part(rating, is_verified, review_text, max_words) -%}
    concat_ws(
        ' ',
        'review',
        cast({{ rating }} as varchar),
        case when {{ is_verified }} then 'verified' end,
        {{ first_words(review_text, max_words) }}
    )
{%- endmacro %}

{# Words of review text to keep.
   st1: var review_words (20), or review_words_many (10) past review_many (3) reviews.
   st2: the whole review up to var review_text_words (360) words shared by the session's
   reviews, at least review_words_min (30) each; the tokenizer cuts what the encoder can't take. #}
{% macro review_word_limit(reviews_in_session) -%}
    {%- if session_text_format() == 'st1' -%}
    case
        when {{ reviews_in_session }} > {{ var('review_many', 3) }} then {{ var('review_words_many', 10) }}
        else {{ var('review_words', 20) }}
    end
    {%- else -%}
    greatest(
        {{ var('review_words_min', 30) }},
        cast(floor({{ var('review_text_words', 360) }} / {{ reviews_in_session }}) as integer)
    )
    {%- endif -%}
{%- endmacro %}

{# st2: what separates the behaviour part from the reviews part (never inside either). #}
{% macro reviews_separator() -%}
    ' || '
{%- endmacro %}

{# What follows the behaviour part: st2 " || " and the reviews (none without reviews); st1 nothing. #}
{% macro reviews_suffix(reviews_text) -%}
    {%- if session_text_format() == 'st1' -%}
        ''
    {%- else -%}
        coalesce({{ reviews_separator() }} || {{ reviews_text }}, '')
    {%- endif -%}
{%- endmacro %}

{# Rough WordPiece count of a segment plus its separator: 1.3 tokens a word, measured in docs/SESSION_TEXT.md. #}
{% macro estimated_tokens(text) -%}
    cast(ceil(1.3 * (length({{ text }}) - length(replace({{ text }}, ' ', '')) + 1)) as integer) + 1
{%- endmacro %}

{# "n <word>" when the count is above zero, else NULL. #}
{% macro count_word(column, word) -%}
    case when {{ column }} > 0 then {{ column }} || ' {{ word }}' end
{%- endmacro %}

{# "n <word>" for each nonzero count, in the given order (a header or summary fragment). #}
{% macro count_words(counts) -%}
    {%- set parts = [] -%}
    {%- for column, word in counts -%}
        {%- do parts.append(count_word(column, word)) -%}
    {%- endfor -%}
    nullif(concat_ws(' ', {{ parts | join(', ') }}), '')
{%- endmacro %}

{# Item types of a session as (item_type, count column suffix, word), in funnel order, reviews last. #}
{% macro item_types() -%}
    {{ return([
        ('view', 'view', 'view'), ('click', 'click', 'click'), ('cart', 'cart', 'cart'),
        ('remove_from_cart', 'remove_from_cart', 'remove'), ('purchase', 'purchase', 'purchase'),
        ('review', 'reviews', 'review')
    ]) }}
{%- endmacro %}

{# The (count column, word) pairs of a session's item counts, e.g. (n_view, view). #}
{% macro item_count_words(prefix='n_') -%}
    {%- set pairs = [] -%}
    {%- for item_type, suffix, word in item_types() -%}
        {%- do pairs.append((prefix ~ suffix, word)) -%}
    {%- endfor -%}
    {{ return(pairs) }}
{%- endmacro %}

{# Header segment: duration, event count and counts by type, pace, distinct products/categories/brands. #}
{% macro session_header(duration_seconds, n_events, n_products, n_categories, n_brands) -%}
    concat_ws(
        ' ',
        {{ duration_text(duration_seconds) }},
        {{ n_events }} || ' events',
        {{ count_words(item_count_words()) }},
        case
            when {{ n_events }} >= 2 and {{ duration_seconds }} >= 1
                then case
                    when {{ n_events }} * 60.0 / {{ duration_seconds }} >= 10
                        then cast(round({{ n_events }} * 60.0 / {{ duration_seconds }}) as bigint) || '/min'
                    else printf('%.1f', {{ n_events }} * 60.0 / {{ duration_seconds }}) || '/min'
                end
        end,
        {{ count_word(n_products, 'products') }},
        {{ count_word(n_categories, 'categories') }},
        {{ count_word(n_brands, 'brands') }}
    )
{%- endmacro %}

{# The segment that stands for the summarized middle: "40 more: 35 view 5 cart over 8m". #}
{% macro middle_summary(n_items, span_seconds) -%}
    concat_ws(
        ' ',
        {{ n_items }} || ' more:',
        {{ count_words(item_count_words('m_')) }},
        'over ' || {{ duration_text(span_seconds) }}
    )
{%- endmacro %}
