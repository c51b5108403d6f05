"""Standard, untuned workloads (docs/benchmarks.md, "Standard workloads"): the 22 TPC-H queries on scale-factor
Parquet files made by `tpchgen-cli`, and an H2O.ai-style group-by set on a deterministic 10-million-row table
(`--h2o-rows`), each through Tabletalk's SQL runner (HTTP end to end, uploaded files) and DuckDB in process on the
same files. Every answer is checked against DuckDB's before any time counts. Prints Markdown tables.

    python bench/standard.py --server http://127.0.0.1:8181 --key KEY --tpch DIR --h2o FILE --runs 3
"""
import argparse
import datetime
import decimal
import math
import os
import statistics
import sys

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import Client, cell, timed

TPCH_TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]

# The TPC-H queries with the specification's validation parameters; dates are written out (no interval
# arithmetic), Q15's view is a WITH clause (the runner takes one statement), and ORDER BY gets a unique tie-break
# where the specification leaves ties (so answers compare row by row).
TPCH = {
    1: """SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,
  sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
  avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc, count(*) AS count_order
FROM lineitem WHERE l_shipdate <= DATE '1998-09-02'
GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus""",
    2: """SELECT s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
FROM part, supplier, partsupp, nation, region
WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND p_size = 15 AND p_type LIKE '%BRASS'
  AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'EUROPE'
  AND ps_supplycost = (SELECT min(ps_supplycost) FROM partsupp, supplier, nation, region
    WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND s_nationkey = n_nationkey
      AND n_regionkey = r_regionkey AND r_name = 'EUROPE')
ORDER BY s_acctbal DESC, n_name, s_name, p_partkey LIMIT 100""",
    3: """SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
FROM customer, orders, lineitem
WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
  AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15'
GROUP BY l_orderkey, o_orderdate, o_shippriority ORDER BY revenue DESC, o_orderdate, l_orderkey LIMIT 10""",
    4: """SELECT o_orderpriority, count(*) AS order_count FROM orders
WHERE o_orderdate >= DATE '1993-07-01' AND o_orderdate < DATE '1993-10-01'
  AND EXISTS (SELECT * FROM lineitem WHERE l_orderkey = o_orderkey AND l_commitdate < l_receiptdate)
GROUP BY o_orderpriority ORDER BY o_orderpriority""",
    5: """SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM customer, orders, lineitem, supplier, nation, region
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey AND c_nationkey = s_nationkey
  AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'ASIA'
  AND o_orderdate >= DATE '1994-01-01' AND o_orderdate < DATE '1995-01-01'
GROUP BY n_name ORDER BY revenue DESC""",
    6: """SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem
WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01'
  AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24""",
    7: """SELECT supp_nation, cust_nation, l_year, sum(volume) AS revenue FROM (
  SELECT n1.n_name AS supp_nation, n2.n_name AS cust_nation, extract(year FROM l_shipdate) AS l_year,
    l_extendedprice * (1 - l_discount) AS volume
  FROM supplier, lineitem, orders, customer, nation n1, nation n2
  WHERE s_suppkey = l_suppkey AND o_orderkey = l_orderkey AND c_custkey = o_custkey
    AND s_nationkey = n1.n_nationkey AND c_nationkey = n2.n_nationkey
    AND ((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR (n1.n_name = 'GERMANY' AND n2.n_name = 'FRANCE'))
    AND l_shipdate BETWEEN DATE '1995-01-01' AND DATE '1996-12-31') AS shipping
GROUP BY supp_nation, cust_nation, l_year ORDER BY supp_nation, cust_nation, l_year""",
    8: """SELECT o_year, sum(CASE WHEN nation = 'BRAZIL' THEN volume ELSE 0 END) / sum(volume) AS mkt_share FROM (
  SELECT extract(year FROM o_orderdate) AS o_year, l_extendedprice * (1 - l_discount) AS volume, n2.n_name AS nation
  FROM part, supplier, lineitem, orders, customer, nation n1, nation n2, region
  WHERE p_partkey = l_partkey AND s_suppkey = l_suppkey AND l_orderkey = o_orderkey AND o_custkey = c_custkey
    AND c_nationkey = n1.n_nationkey AND n1.n_regionkey = r_regionkey AND r_name = 'AMERICA'
    AND s_nationkey = n2.n_nationkey AND o_orderdate BETWEEN DATE '1995-01-01' AND DATE '1996-12-31'
    AND p_type = 'ECONOMY ANODIZED STEEL') AS all_nations
GROUP BY o_year ORDER BY o_year""",
    9: """SELECT nation, o_year, sum(amount) AS sum_profit FROM (
  SELECT n_name AS nation, extract(year FROM o_orderdate) AS o_year,
    l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity AS amount
  FROM part, supplier, lineitem, partsupp, orders, nation
  WHERE s_suppkey = l_suppkey AND ps_suppkey = l_suppkey AND ps_partkey = l_partkey AND p_partkey = l_partkey
    AND o_orderkey = l_orderkey AND s_nationkey = n_nationkey AND p_name LIKE '%green%') AS profit
GROUP BY nation, o_year ORDER BY nation, o_year DESC""",
    10: """SELECT c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) AS revenue, c_acctbal, n_name, c_address,
  c_phone, c_comment
FROM customer, orders, lineitem, nation
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND o_orderdate >= DATE '1993-10-01'
  AND o_orderdate < DATE '1994-01-01' AND l_returnflag = 'R' AND c_nationkey = n_nationkey
GROUP BY c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
ORDER BY revenue DESC, c_custkey LIMIT 20""",
    11: """SELECT ps_partkey, sum(ps_supplycost * ps_availqty) AS value FROM partsupp, supplier, nation
WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY'
GROUP BY ps_partkey HAVING sum(ps_supplycost * ps_availqty) > (
  SELECT sum(ps_supplycost * ps_availqty) * 0.0001 FROM partsupp, supplier, nation
  WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY')
ORDER BY value DESC, ps_partkey""",
    12: """SELECT l_shipmode,
  sum(CASE WHEN o_orderpriority = '1-URGENT' OR o_orderpriority = '2-HIGH' THEN 1 ELSE 0 END) AS high_line_count,
  sum(CASE WHEN o_orderpriority <> '1-URGENT' AND o_orderpriority <> '2-HIGH' THEN 1 ELSE 0 END) AS low_line_count
FROM orders, lineitem
WHERE o_orderkey = l_orderkey AND l_shipmode IN ('MAIL', 'SHIP') AND l_commitdate < l_receiptdate
  AND l_shipdate < l_commitdate AND l_receiptdate >= DATE '1994-01-01' AND l_receiptdate < DATE '1995-01-01'
GROUP BY l_shipmode ORDER BY l_shipmode""",
    13: """SELECT c_count, count(*) AS custdist FROM (
  SELECT c_custkey, count(o_orderkey) AS c_count
  FROM customer LEFT OUTER JOIN orders ON c_custkey = o_custkey AND o_comment NOT LIKE '%special%requests%'
  GROUP BY c_custkey) AS c_orders
GROUP BY c_count ORDER BY custdist DESC, c_count DESC""",
    14: """SELECT 100.00 * sum(CASE WHEN p_type LIKE 'PROMO%' THEN l_extendedprice * (1 - l_discount) ELSE 0 END)
  / sum(l_extendedprice * (1 - l_discount)) AS promo_revenue
FROM lineitem, part
WHERE l_partkey = p_partkey AND l_shipdate >= DATE '1995-09-01' AND l_shipdate < DATE '1995-10-01'""",
    15: """WITH revenue0 AS (
  SELECT l_suppkey AS supplier_no, sum(l_extendedprice * (1 - l_discount)) AS total_revenue FROM lineitem
  WHERE l_shipdate >= DATE '1996-01-01' AND l_shipdate < DATE '1996-04-01' GROUP BY l_suppkey)
SELECT s_suppkey, s_name, s_address, s_phone, total_revenue FROM supplier, revenue0
WHERE s_suppkey = supplier_no AND total_revenue = (SELECT max(total_revenue) FROM revenue0)
ORDER BY s_suppkey""",
    16: """SELECT p_brand, p_type, p_size, count(DISTINCT ps_suppkey) AS supplier_cnt FROM partsupp, part
WHERE p_partkey = ps_partkey AND p_brand <> 'Brand#45' AND p_type NOT LIKE 'MEDIUM POLISHED%'
  AND p_size IN (49, 14, 23, 45, 19, 3, 36, 9)
  AND ps_suppkey NOT IN (SELECT s_suppkey FROM supplier WHERE s_comment LIKE '%Customer%Complaints%')
GROUP BY p_brand, p_type, p_size ORDER BY supplier_cnt DESC, p_brand, p_type, p_size""",
    17: """SELECT sum(l_extendedprice) / 7.0 AS avg_yearly FROM lineitem, part
WHERE p_partkey = l_partkey AND p_brand = 'Brand#23' AND p_container = 'MED BOX'
  AND l_quantity < (SELECT 0.2 * avg(l_quantity) FROM lineitem WHERE l_partkey = p_partkey)""",
    18: """SELECT c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity) AS total_qty
FROM customer, orders, lineitem
WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING sum(l_quantity) > 300)
  AND c_custkey = o_custkey AND o_orderkey = l_orderkey
GROUP BY c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
ORDER BY o_totalprice DESC, o_orderdate, o_orderkey LIMIT 100""",
    19: """SELECT sum(l_extendedprice * (1 - l_discount)) AS revenue FROM lineitem, part
WHERE (p_partkey = l_partkey AND p_brand = 'Brand#12' AND p_container IN ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')
    AND l_quantity >= 1 AND l_quantity <= 11 AND p_size BETWEEN 1 AND 5 AND l_shipmode IN ('AIR', 'AIR REG')
    AND l_shipinstruct = 'DELIVER IN PERSON')
  OR (p_partkey = l_partkey AND p_brand = 'Brand#23' AND p_container IN ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')
    AND l_quantity >= 10 AND l_quantity <= 20 AND p_size BETWEEN 1 AND 10 AND l_shipmode IN ('AIR', 'AIR REG')
    AND l_shipinstruct = 'DELIVER IN PERSON')
  OR (p_partkey = l_partkey AND p_brand = 'Brand#34' AND p_container IN ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')
    AND l_quantity >= 20 AND l_quantity <= 30 AND p_size BETWEEN 1 AND 15 AND l_shipmode IN ('AIR', 'AIR REG')
    AND l_shipinstruct = 'DELIVER IN PERSON')""",
    20: """SELECT s_name, s_address FROM supplier, nation
WHERE s_suppkey IN (
    SELECT ps_suppkey FROM partsupp
    WHERE ps_partkey IN (SELECT p_partkey FROM part WHERE p_name LIKE 'forest%')
      AND ps_availqty > (SELECT 0.5 * sum(l_quantity) FROM lineitem WHERE l_partkey = ps_partkey
        AND l_suppkey = ps_suppkey AND l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01'))
  AND s_nationkey = n_nationkey AND n_name = 'CANADA'
ORDER BY s_name""",
    21: """SELECT s_name, count(*) AS numwait FROM supplier, lineitem l1, orders, nation
WHERE s_suppkey = l1.l_suppkey AND o_orderkey = l1.l_orderkey AND o_orderstatus = 'F'
  AND l1.l_receiptdate > l1.l_commitdate
  AND EXISTS (SELECT * FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey AND l2.l_suppkey <> l1.l_suppkey)
  AND NOT EXISTS (SELECT * FROM lineitem l3 WHERE l3.l_orderkey = l1.l_orderkey AND l3.l_suppkey <> l1.l_suppkey
    AND l3.l_receiptdate > l3.l_commitdate)
  AND s_nationkey = n_nationkey AND n_name = 'SAUDI ARABIA'
GROUP BY s_name ORDER BY numwait DESC, s_name LIMIT 100""",
    22: """SELECT cntrycode, count(*) AS numcust, sum(c_acctbal) AS totacctbal FROM (
  SELECT substring(c_phone FROM 1 FOR 2) AS cntrycode, c_acctbal FROM customer
  WHERE substring(c_phone FROM 1 FOR 2) IN ('13', '31', '23', '29', '30', '18', '17')
    AND c_acctbal > (SELECT avg(c_acctbal) FROM customer WHERE c_acctbal > 0.00
      AND substring(c_phone FROM 1 FOR 2) IN ('13', '31', '23', '29', '30', '18', '17'))
    AND NOT EXISTS (SELECT * FROM orders WHERE o_custkey = c_custkey)) AS custsale
GROUP BY cntrycode ORDER BY cntrycode""",
}

# H2O.ai's db-benchmark group-by questions. Their answers are many rows; each query is wrapped so both engines
# compute the whole answer and return its size and column sums (compared between the engines).
H2O = {
    "q1 sum v1 by id1": ("SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1", ["v1"]),
    "q2 sum v1 by id1:id2": ("SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2", ["v1"]),
    "q3 sum v1 mean v3 by id3": ("SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3", ["v1", "v3"]),
    "q4 mean v1:v3 by id4": ("SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4", ["v1", "v2", "v3"]),
    "q5 sum v1:v3 by id6": ("SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6", ["v1", "v2", "v3"]),
    "q6 median sd v3 by id4 id5": ("SELECT id4, id5, median(v3) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY id4, id5", ["median_v3", "sd_v3"]),
    "q7 max v1 - min v2 by id3": ("SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3", ["range_v1_v2"]),
    "q8 largest two v3 by id6": ("SELECT id6, v3 AS largest2_v3 FROM (SELECT id6, v3, row_number() OVER (PARTITION BY id6 ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) AS sub WHERE order_v3 <= 2", ["largest2_v3"]),
    # A group where v1 or v2 is constant has no correlation: DuckDB says NaN, DataFusion NULL; both are left out.
    "q9 regression v1 v2 by id2 id4": ("SELECT id2, id4, power(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4",
                                       ["CASE WHEN isnan(r2) THEN NULL ELSE r2 END"]),
    "q10 sum v3 count by id1:id6": ("SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM x GROUP BY id1, id2, id3, id4, id5, id6", ["v3", "count"]),
}


def h2o_wrapped(sql, columns):
    sums = ", ".join(f"sum({c}) AS sum_{i}" for i, c in enumerate(columns))
    return f"SELECT count(*) AS groups, {sums} FROM ({sql}) AS answer"


def make_h2o(path, rows, k=100, seed=42):
    """The db-benchmark group-by table (`groupby-datagen.R`'s shape), from a fixed seed."""
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    n_k = max(1, rows // k)

    def ids(n, width):
        return pa.array(np.char.add("id", np.char.zfill(rng.integers(1, n + 1, rows).astype(str), width)))

    table = pa.table({
        "id1": ids(k, 3), "id2": ids(k, 3), "id3": ids(n_k, 10),
        "id4": pa.array(rng.integers(1, k + 1, rows, dtype=np.int32)),
        "id5": pa.array(rng.integers(1, k + 1, rows, dtype=np.int32)),
        "id6": pa.array(rng.integers(1, n_k + 1, rows, dtype=np.int32)),
        "v1": pa.array(rng.integers(1, 6, rows, dtype=np.int32)),
        "v2": pa.array(rng.integers(1, 16, rows, dtype=np.int32)),
        "v3": pa.array(np.round(rng.uniform(0, 100, rows), 6)),
    })
    pq.write_table(table, path, row_group_size=1 << 20)


def normal(value):
    """A cell as both engines can agree on it: numbers as floats, dates as ISO text."""
    if isinstance(value, (decimal.Decimal, int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return float(value) if value.strip().lstrip("-").replace(".", "", 1).isdigit() else value
        except ValueError:
            return value
    return value


def same(a, b):
    a, b = normal(a), normal(b)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


def check(name, ours, theirs):
    """Our first rows (the runner keeps 1,000) against DuckDB's, cell by cell; raises on the first difference."""
    rows = ours["rows"]
    if ours["total_rows"] != min(len(theirs), 10_000) and not ours.get("limit_applied"):
        raise AssertionError(f"{name}: {ours['total_rows']} rows, DuckDB {len(theirs)}")
    for i, (mine, expected) in enumerate(zip(rows, theirs)):
        if len(mine) != len(expected) or not all(same(x, y) for x, y in zip(mine, expected)):
            raise AssertionError(f"{name}: row {i} differs: {mine} vs {list(expected)}")


def compare(title, queries, client, conversation, duck, runs):
    print(f"### {title}\n")
    print("| Query | Tabletalk ms | DuckDB ms | Tabletalk / DuckDB |")
    print("|---|---|---|---|")
    ratios = []
    for name, sql in queries:
        run = lambda: client.call("POST", f"/conversations/{conversation}/query", {"sql": sql, "page_size": 1000})
        check(name, run(), duck.execute(sql).fetchall())
        ours = timed(run, runs)
        theirs = timed(lambda: duck.execute(sql).fetchall(), runs)
        r = statistics.median(ours) / statistics.median(theirs)
        ratios.append(r)
        print(f"| {name} | {cell(ours)} | {cell(theirs)} | {r:.2f}× |", flush=True)
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"\nGeometric mean of the ratios: **{geomean:.2f}×**; worst {max(ratios):.2f}×; every answer equal to DuckDB's.\n")
    return geomean


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://127.0.0.1:8181")
    parser.add_argument("--key", required=True)
    parser.add_argument("--tpch", required=True, help="directory of <table>.parquet from tpchgen-cli")
    parser.add_argument("--h2o", required=True, help="the group-by table's Parquet file (made when missing)")
    parser.add_argument("--h2o-rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["tpch", "h2o"])
    parser.add_argument("--queries", help="comma-separated query names to run, e.g. Q1,Q17,q8 (default: all)")
    args = parser.parse_args()
    wanted = set(args.queries.split(",")) if args.queries else None
    chosen = lambda name: wanted is None or name.split(" ")[0] in wanted
    client = Client(args.server, args.key)
    duck = duckdb.connect()
    if args.only != "h2o":
        conversation = client.conversation()
        for table in TPCH_TABLES:
            path = os.path.join(args.tpch, f"{table}.parquet")
            client.upload(conversation, path, table)
            duck.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
        size = sum(os.path.getsize(os.path.join(args.tpch, f"{t}.parquet")) for t in TPCH_TABLES)
        compare(f"TPC-H ({size:,} bytes of Parquet)", [(f"Q{n}", sql) for n, sql in TPCH.items() if chosen(f"Q{n}")], client, conversation, duck, args.runs)
    if args.only != "tpch":
        make_h2o(args.h2o, args.h2o_rows)
        conversation = client.conversation()
        client.upload(conversation, args.h2o, "x")
        duck.execute(f"CREATE OR REPLACE VIEW x AS SELECT * FROM read_parquet('{args.h2o}')")
        rows = pq.ParquetFile(args.h2o).metadata.num_rows
        compare(f"H2O-style group-by ({rows:,} rows, k = 100)", [(name, h2o_wrapped(sql, cols)) for name, (sql, cols) in H2O.items() if chosen(name)],
                client, conversation, duck, args.runs)


if __name__ == "__main__":
    sys.exit(main())
