"""Share of reviews whose author bought the product first, by anomaly family and variant.

Reads a built warehouse (`int_sessions_reviews.is_verified_purchase` joined to the labels
on session_id), e.g. row e's: `.venv/bin/python bench/verified_reviews.py
/tmp/bench_all/reviews/warehouse.duckdb` after `duckbert bench quality --rows e
--work-dir /tmp/bench_all`. Opens the file read-only.
"""

import sys

import duckdb

QUERY = """
select
    coalesce(labels.anomaly_family, 'genuine') as family,
    coalesce(labels.anomaly_variant, '') as variant,
    count(*) as reviews,
    round(100 * avg(reviews.is_verified_purchase::int), 1) as verified_pct
from int_sessions_reviews as reviews
inner join stg_labels as labels on reviews.session_id = labels.session_id
group by all
order by all
"""


def main(path):
    with duckdb.connect(path, read_only=True) as conn:
        print(conn.sql(QUERY))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: verified_reviews.py WAREHOUSE.duckdb")
    main(sys.argv[1])
