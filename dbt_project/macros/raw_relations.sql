{# The raw data contract (duckbert/raw_contract.py) of events, reviews or labels: (column, type, required). #}
{% macro duckbert_contract(table) -%}
    {%- set contracts = {
        'events': [
            ('event_time', 'timestamp', true), ('event_type', 'varchar', true),
            ('product_id', 'varchar', true), ('category_id', 'varchar', true),
            ('category_code', 'varchar', true), ('brand', 'varchar', true),
            ('price', 'double', true), ('user_id', 'varchar', true),
            ('user_session', 'varchar', false)
        ],
        'reviews': [
            ('review_id', 'varchar', true), ('user_id', 'varchar', true),
            ('product_id', 'varchar', true), ('rating', 'integer', true),
            ('review_text', 'varchar', true), ('created_at', 'timestamp', true),
            ('user_session', 'varchar', false)
        ],
        'labels': [
            ('user_session', 'varchar', false), ('session_id', 'varchar', false),
            ('is_anomaly', 'boolean', true), ('label_source', 'varchar', false),
            ('labelled_at', 'timestamp', false)
        ]
    } -%}
    {{ return(contracts[table]) }}
{%- endmacro %}

{# Columns of which a relation must have at least one (labels: user_session or session_id). #}
{% macro duckbert_contract_one_of(table) -%}
    {{ return({'labels': [('user_session', 'session_id')]}.get(table, [])) }}
{%- endmacro %}

{# The vars that point duckbert at a user's table: (relation var, column map var), e.g. duckbert_events. #}
{% macro duckbert_relation_vars(table) -%}
    {{ return(('duckbert_' ~ table, 'duckbert_' ~ table[:-1] ~ '_columns')) }}
{%- endmacro %}

{# A relation from a var's value: the text of source()/ref(), or [database.][schema.]table. #}
{% macro duckbert_parse_relation(value, relation_var) -%}
    {%- set parts = [] -%}
    {%- for part in (value | string | trim).split('.') -%}
        {%- do parts.append(part | trim | replace('"', '')) -%}
    {%- endfor -%}
    {%- set check = namespace(valid=parts | length <= 3) -%}
    {%- for part in parts if not modules.re.match('^[^\\s()\'`;,]+$', part) -%}
        {%- set check.valid = false -%}
    {%- endfor -%}
    {%- if not check.valid -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ relation_var ~ " must name a relation: \"{{ source('your_source', 'your_table') }}\", "
            ~ "\"{{ ref('your_model') }}\" or [database.][schema.]table; got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(api.Relation.create(
        database=parts[-3] if parts | length == 3 else target.database,
        schema=parts[-2] if parts | length >= 2 else target.schema,
        identifier=parts[-1]
    )) }}
{%- endmacro %}

{# A user's column as the contract's type: UTC timestamps, text trimmed with '' as NULL, ratings 1-5. #}
{% macro duckbert_typed(column, contract_type, dtype) -%}
    {%- set dtype = dtype | upper -%}
    {%- set is_text = dtype.startswith('VARCHAR') or dtype in ('TEXT', 'STRING', 'CHAR', 'BPCHAR') -%}
    {%- if contract_type == 'timestamp' and dtype == 'TIMESTAMP' -%}
        {{ column }}
    {%- elif contract_type == 'timestamp' and dtype in ('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ') -%}
        timezone('UTC', {{ column }})
    {%- elif contract_type == 'timestamp' and is_text -%}
        {#- as `duckbert load` reads text: a zone or offset after the clock time converts to UTC -#}
        case
            when regexp_matches(
                trim({{ column }}),
                '(?i)\d:\d\d(:\d\d(\.\d+)?)?\s*(z|utc|gmt|[+-]\d{1,2}(:?\d\d)?|[a-z]+(/[a-z_+-]+)+)$'
            ) then timezone('UTC', try_cast(trim({{ column }}) as timestamptz))
            else try_cast(trim({{ column }}) as timestamp)
        end
    {%- elif contract_type == 'timestamp' -%}
        try_cast({{ column }} as timestamp)
    {%- elif contract_type == 'varchar' and is_text -%}
        nullif(trim({{ column }}), '')
    {%- elif contract_type == 'varchar' -%}
        cast({{ column }} as varchar)
    {%- elif contract_type == 'double' -%}
        {{ column if dtype == 'DOUBLE' else 'try_cast(' ~ column ~ ' as double)' }}
    {%- elif contract_type == 'integer' -%}
        case
            when try_cast({{ column }} as double) in (1, 2, 3, 4, 5)
                then cast(try_cast({{ column }} as double) as integer)
        end
    {%- elif contract_type == 'boolean' and dtype == 'BOOLEAN' -%}
        {{ column }}
    {%- else -%}
        case
            when lower(trim(cast({{ column }} as varchar))) in ('true', 't', 'yes', 'y', '1', '1.0') then true
            when lower(trim(cast({{ column }} as varchar))) in ('false', 'f', 'no', 'n', '0', '0.0') then false
        end
    {%- endif -%}
{%- endmacro %}

{#
    What a staging model selects from: duckbert's raw_<table> source, or the user's relation
    named by var duckbert_<table> with its columns renamed onto the raw contract by var
    duckbert_<singular>_columns ({contract column: their column}). Optional contract columns
    the relation lacks are NULL; a wrong mapping or a missing required column is a compile
    error naming the var and the column. duckbert_reviews / duckbert_labels: false means
    "none": an empty relation of the contract's columns.
#}
{% macro duckbert_source(table) -%}
    {%- set relation_var, columns_var = duckbert_relation_vars(table) -%}
    {%- set value = var(relation_var, none) -%}
    {%- set mapping = var(columns_var, none) or {} -%}
    {%- set relation = source('raw', 'raw_' ~ table) if value is none else value -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set contract = duckbert_contract(table) -%}
    {%- set names = contract | map(attribute=0) | list -%}
    {%- if mapping is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ columns_var ~ " must map raw contract columns to yours, e.g. {"
            ~ names[0] ~ ": your_column}; got " ~ mapping) }}
    {%- endif -%}
    {%- for name, column in mapping.items() -%}
        {%- if name not in names -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ columns_var ~ " maps '" ~ name ~ "', which is not a column of the " ~ table
                ~ " contract (" ~ names | join(', ') ~ ")") }}
        {%- elif column is not string -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ columns_var ~ " maps " ~ name ~ " to " ~ column ~ "; give a column name") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if value is sameas false -%}
        {%- if table == 'events' -%}
            {{ exceptions.raise_compiler_error(
                "var duckbert_events cannot be false: duckbert needs an events relation") }}
        {%- endif -%}
        {{ return(duckbert_empty_source(table)) }}
    {%- endif -%}
    {%- if value is none and not mapping -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if value is not none -%}
        {%- set relation = duckbert_parse_relation(value, relation_var) -%}
    {%- endif -%}
    {{ return(duckbert_mapped_source(table, relation, mapping)) }}
{%- endmacro %}

{# An empty relation with the contract's columns and types (no reviews, or no labels, yet). #}
{% macro duckbert_empty_source(table) -%}
    {%- set selected = [] -%}
    {%- for name, contract_type, required in duckbert_contract(table) -%}
        {%- do selected.append('cast(null as ' ~ contract_type ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {%- do selected.extend([
        'cast(null as json) as extra', 'cast(null as varchar) as source_file',
        'cast(null as bigint) as source_row', 'cast(null as timestamp) as loaded_at'
    ]) -%}
    (select {{ selected | join(', ') }} where false) as raw_{{ table }}
{%- endmacro %}

{# The user's relation as a raw_<table>: contract columns renamed and typed, the rest in extra (JSON). #}
{% macro duckbert_mapped_source(table, relation, mapping) -%}
    {%- set relation_var, columns_var = duckbert_relation_vars(table) -%}
    {%- set columns = adapter.get_columns_in_relation(relation) -%}
    {%- set by_name = {} -%}
    {%- for column in columns -%}
        {%- do by_name.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- set known = columns | length > 0 -%}
    {%- set selected = [] -%}
    {%- set found = [] -%}
    {%- set used = [] -%}
    {%- for name, contract_type, required in duckbert_contract(table) -%}
        {%- set wanted = mapping.get(name, name) -%}
        {%- set column = by_name.get(wanted | lower) -%}
        {%- if column is not none -%}
            {%- do used.append(column.name | lower) -%}
            {%- do found.append(name) -%}
            {%- do selected.append((name, duckbert_typed(adapter.quote(column.name), contract_type, column.dtype))) -%}
        {%- elif not known -%}
            {#- the relation is not built yet (dbt compile before a build): take the names as given -#}
            {%- do selected.append((name, adapter.quote(wanted))) -%}
        {%- elif name in mapping -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ columns_var ~ " maps " ~ name ~ " to '" ~ wanted ~ "', but " ~ relation
                ~ " has no column '" ~ wanted ~ "'; its columns: " ~ columns | map(attribute='name') | join(', ')) }}
        {%- elif required -%}
            {{ exceptions.raise_compiler_error(
                relation ~ " (var " ~ relation_var ~ ") has no column '" ~ name ~ "', which the raw "
                ~ "data contract requires; name the column that holds it in var " ~ columns_var
                ~ ", e.g. {" ~ name ~ ": your_column}. Its columns: "
                ~ columns | map(attribute='name') | join(', ')) }}
        {%- else -%}
            {%- do selected.append((name, 'cast(null as ' ~ contract_type ~ ')')) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for group in duckbert_contract_one_of(table) if known and not (group | select('in', found) | list) -%}
        {{ exceptions.raise_compiler_error(
            relation ~ " (var " ~ relation_var ~ ") needs one of the columns " ~ group | join(' or ')
            ~ " to name the labelled session; map yours in var " ~ columns_var) }}
    {%- endfor -%}
    {%- set bookkeeping = ['extra', 'source_file', 'source_row', 'loaded_at'] -%}
    {%- set rest = columns | rejectattr('name', 'in', bookkeeping) | list -%}
    {%- set extra_pairs = [] -%}
    {%- for column in rest if (column.name | lower) not in used -%}
        {%- do extra_pairs.append("'" ~ column.name | replace("'", "''") ~ "', " ~ adapter.quote(column.name)) -%}
    {%- endfor -%}
    {%- if 'extra' in by_name -%}
        {%- do selected.append(('extra', 'cast(' ~ adapter.quote(by_name['extra'].name) ~ ' as json)')) -%}
    {%- elif extra_pairs -%}
        {%- do selected.append(('extra', 'json_object(' ~ extra_pairs | join(', ') ~ ')')) -%}
    {%- else -%}
        {%- do selected.append(('extra', 'cast(null as json)')) -%}
    {%- endif -%}
    {%- set where = [relation.database, relation.schema, relation.identifier] | join('.') -%}
    {%- for name, fallback in [
        ('source_file', "'" ~ where | replace("'", "''") ~ "'"),
        ('source_row', 'cast(null as bigint)'), ('loaded_at', 'cast(null as timestamp)')
    ] -%}
        {%- do selected.append((name, adapter.quote(by_name[name].name) if name in by_name else fallback)) -%}
    {%- endfor -%}
    {%- set select_list = [] -%}
    {%- for name, expression in selected -%}
        {%- do select_list.append(expression ~ ' as ' ~ name) -%}
    {%- endfor -%}
    (
        select
            {{ select_list | join(',\n            ') }}
        from {{ relation }}
    ) as raw_{{ table }}
{%- endmacro %}
