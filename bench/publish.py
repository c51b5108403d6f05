"""Writes a results file of bench/run.sh into docs/benchmarks.md, between the two marker lines (kept), so the
document always carries the figures of the last full run and the machine they were measured on.

    python bench/publish.py --results bench-work/results.md --doc docs/benchmarks.md
"""
import argparse

BEGIN = "<!-- bench/run.sh results: begin -->"
END = "<!-- bench/run.sh results: end -->"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--doc", required=True)
    args = parser.parse_args()
    with open(args.doc) as f:
        doc = f.read()
    if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
        raise SystemExit(f"{args.doc}: expected one '{BEGIN}' line followed by one '{END}' line")
    with open(args.results) as f:
        results = f.read().strip()
    head, rest = doc.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(args.doc, "w") as f:
        f.write(f"{head}{BEGIN}\n{results}\n{END}{tail}")


if __name__ == "__main__":
    main()
