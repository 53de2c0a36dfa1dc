"""The raw data contract (DESIGN.md): columns, types and the rules that make a row unusable.

`duckbert load` reads every file as text and types it with the SQL expressions built here, so
the rules live in one place: what each raw table holds, which columns a file must have, how a
text value becomes a typed one, and which rows go to `rejected_*` with which reason. The dbt
staging models rely on these tables' types; `macros/normalize_event_type.sql` mirrors
`EVENT_TYPE_SYNONYMS` (a functional test checks that the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass

from udf.sqlident import quote_literal

EVENT_TYPES = ("view", "click", "cart", "remove_from_cart", "purchase")

# Lower-cased, spaces/hyphens turned into underscores, then mapped (RetailRocket and friends).
EVENT_TYPE_SYNONYMS = {
    "addtocart": "cart",
    "add_to_cart": "cart",
    "removefromcart": "remove_from_cart",
    "remove": "remove_from_cart",
    "transaction": "purchase",
}

# Text values that mean "no value" in exported files (pandas writes nan, some tools NULL).
NULL_TOKENS = ("", "null", "none", "nan", "n/a")

# Times with an explicit zone or offset after the clock time: parsed as TIMESTAMPTZ and
# converted to UTC. Everything else without a zone is taken as UTC already.
_ZONED = r"(?i)\d:\d\d(:\d\d(\.\d+)?)?\s*(z|utc|gmt|[+-]\d{1,2}(:?\d\d)?|[a-z]+(/[a-z_+-]+)+)$"


def clean_text(expr: str) -> str:
    """Trimmed text; empty strings and the usual null spellings become NULL."""
    tokens = ", ".join(quote_literal(t) for t in NULL_TOKENS)
    return f"case when lower(trim({expr})) in ({tokens}) then null else trim({expr}) end"


def parse_timestamp(expr: str) -> str:
    """UTC TIMESTAMP from cleaned text: ISO or `... UTC` text, offsets, epoch s or ms."""
    return (
        f"case when {expr} is null then null "
        rf"when regexp_full_match({expr}, '\d{{9,10}}(\.\d+)?') "
        f"then make_timestamp(cast(cast({expr} as double) * 1000000 as bigint)) "
        rf"when regexp_full_match({expr}, '\d{{12,13}}') "
        f"then make_timestamp(cast({expr} as bigint) * 1000) "
        f"when regexp_matches({expr}, {quote_literal(_ZONED)}) "
        f"then timezone('UTC', try_cast({expr} as timestamptz)) "
        f"else try_cast({expr} as timestamp) end"
    )


def parse_double(expr: str) -> str:
    """A finite DOUBLE, else NULL (text such as 'abc', 'inf')."""
    return (
        f"case when isfinite(try_cast({expr} as double)) "
        f"then try_cast({expr} as double) end"
    )


def parse_rating(expr: str) -> str:
    """An INTEGER rating when the text is a whole number from 1 to 5 ('4', '4.0'), else NULL."""
    value = f"try_cast({expr} as double)"
    return f"case when {value} in (1, 2, 3, 4, 5) then cast({value} as integer) end"


def parse_boolean(expr: str) -> str:
    """BOOLEAN from true/false, t/f, yes/no, 1/0 (any case), else NULL."""
    low = f"lower({expr})"
    return (
        f"case when {low} in ('true', 't', 'yes', 'y', '1', '1.0') then true "
        f"when {low} in ('false', 'f', 'no', 'n', '0', '0.0') then false end"
    )


def normalize_event_type(expr: str) -> str:
    """The canonical event type of cleaned text, or the lower-cased text when unknown."""
    base = rf"regexp_replace(lower({expr}), '[\s-]+', '_', 'g')"
    whens = " ".join(
        f"when {quote_literal(src)} then {quote_literal(dst)}"
        for src, dst in EVENT_TYPE_SYNONYMS.items()
    )
    return f"case {base} {whens} else {base} end"


@dataclass(frozen=True)
class Column:
    """One contract column: its SQL type, how text becomes that type, and whether a file
    must have it (`required`); absent optional columns load as NULL."""

    name: str
    sql_type: str
    kind: str = "text"  # text | free_text | timestamp | double | rating | boolean
    required: bool = True

    def cleaned(self, expr: str) -> str:
        if self.kind == "free_text":
            return f"nullif(trim({expr}), '')"
        return clean_text(expr)

    def typed(self, expr: str) -> str:
        """SQL that types an already cleaned text expression."""
        parse = {
            "timestamp": parse_timestamp,
            "double": parse_double,
            "rating": parse_rating,
            "boolean": parse_boolean,
        }.get(self.kind)
        return expr if parse is None else parse(expr)


@dataclass(frozen=True)
class Rule:
    """A row is rejected with `reason` when `condition` (SQL over cleaned text columns `c.*`
    and typed columns `t.*`) holds; rules are checked in order, the first match wins."""

    condition: str
    reason: str


@dataclass(frozen=True)
class RawTable:
    name: str
    rejected: str
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...]
    # Groups of which a file must have at least one column (labels: user_session or session_id).
    one_of: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        cols = ", ".join(f"{c.name} {c.sql_type}" for c in self.columns)
        return (
            f"create table if not exists {self.name} ({cols}, extra json, "
            "source_file varchar not null, source_row bigint not null, "
            "loaded_at timestamp not null)"
        )

    def rejected_ddl(self) -> str:
        cols = ", ".join(f"{c.name} varchar" for c in self.columns)
        return (
            f"create table if not exists {self.rejected} (reason varchar not null, {cols}, "
            "extra json, source_file varchar not null, source_row bigint, "
            "loaded_at timestamp not null)"
        )

    def reason_sql(self) -> str:
        whens = " ".join(
            f"when {rule.condition} then {quote_literal(rule.reason)}" for rule in self.rules
        )
        return f"case {whens} end"


def _known_event_type(expr: str) -> str:
    types = ", ".join(quote_literal(t) for t in EVENT_TYPES)
    return f"{normalize_event_type(expr)} in ({types})"


EVENTS = RawTable(
    name="raw_events",
    rejected="rejected_events",
    columns=(
        Column("event_time", "timestamp", "timestamp"),
        Column("event_type", "varchar"),
        Column("product_id", "varchar"),
        Column("category_id", "varchar"),
        Column("category_code", "varchar"),
        Column("brand", "varchar"),
        Column("price", "double", "double"),
        Column("user_id", "varchar"),
        Column("user_session", "varchar", required=False),
    ),
    rules=(
        Rule("c.user_id is null", "missing user_id"),
        Rule("c.event_time is null", "missing event_time"),
        Rule("t.event_time is null", "unparseable event_time"),
        Rule("c.event_type is null", "missing event_type"),
        Rule(f"not ({_known_event_type('c.event_type')})", "unknown event_type"),
    ),
)

REVIEWS = RawTable(
    name="raw_reviews",
    rejected="rejected_reviews",
    columns=(
        Column("review_id", "varchar"),
        Column("user_id", "varchar"),
        Column("product_id", "varchar"),
        Column("rating", "integer", "rating"),
        Column("review_text", "varchar", "free_text"),
        Column("created_at", "timestamp", "timestamp"),
        Column("user_session", "varchar", required=False),
    ),
    rules=(
        Rule("c.user_id is null", "missing user_id"),
        Rule("c.rating is null", "missing rating"),
        Rule("t.rating is null", "rating not a whole number 1-5"),
        Rule("c.created_at is null", "missing created_at"),
        Rule("t.created_at is null", "unparseable created_at"),
    ),
)

LABELS = RawTable(
    name="raw_labels",
    rejected="rejected_labels",
    columns=(
        Column("user_session", "varchar", required=False),
        Column("session_id", "varchar", required=False),
        Column("is_anomaly", "boolean", "boolean"),
        Column("label_source", "varchar", required=False),
        Column("labelled_at", "timestamp", "timestamp", required=False),
    ),
    rules=(
        Rule("c.user_session is null and c.session_id is null",
             "missing user_session and session_id"),
        Rule("c.is_anomaly is null", "missing is_anomaly"),
        Rule("t.is_anomaly is null", "is_anomaly not true/false/1/0"),
    ),
    one_of=(("user_session", "session_id"),),
)

TABLES = {"events": EVENTS, "reviews": REVIEWS, "labels": LABELS}
