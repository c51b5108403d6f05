"""Chat measurements against a running Tabletalk whose LLM is bench/fake_llm.py (zero latency):
turn overhead from the POST to `chat_complete` (one tool call running one tiny query, then the answer), and the
memory of many idle WebSocket connections.

    python bench/chat.py --server http://127.0.0.1:8181 --key KEY --pid SERVER_PID --turns 200 --sockets 10000
"""
import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time

import websockets

from common import Client, cell, proc_kib


async def turns(client, token, args):
    conversation = client.conversation()
    # A tiny table for the tool call's query.
    path = os.path.join(tempfile.mkdtemp(), "t.csv")
    with open(path, "w") as f:
        f.write("a\n1\n2\n3\n")
    client.upload(conversation, path, "t")
    url = args.server.replace("http", "ws", 1) + f"/ws?token={token}"
    times = []
    async with websockets.connect(url, max_size=None) as socket:
        for _ in range(args.turns):
            started = time.perf_counter()
            client.call("POST", f"/conversations/{conversation}/messages", {"content": "How many rows?"})
            while True:
                event = json.loads(await socket.recv())
                if event["type"] == "chat_complete":
                    break
            times.append((time.perf_counter() - started) * 1000)
    return times


def extra_sessions(db, count):
    """Users and sessions written straight into the database: one user may hold at most 1,000 sockets."""
    import hashlib
    import secrets
    import sqlite3
    import uuid

    con = sqlite3.connect(db)
    now, later = con.execute("SELECT created_at, expires_at FROM sessions LIMIT 1").fetchone()
    tokens = []
    for i in range(count):
        user, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
        con.execute(
            "INSERT INTO users (id, oidc_issuer, oidc_subject, email, name, avatar_url, created_at, last_login_at)"
            " VALUES (?, 'bench', ?, ?, 'Bench', NULL, ?, ?)",
            (user, f"bench-{user}", f"{user}@bench.invalid", now, now),
        )
        con.execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at, last_extended_at) VALUES (?, ?, ?, ?, ?, ?)",
            (str(uuid.uuid4()), hashlib.sha256(token.encode()).digest(), user, now, later, now),
        )
        tokens.append(token)
    con.commit()
    return tokens


async def idle_sockets(tokens, client, args):
    """--sockets connections of other users opened in --runs equal rounds, all kept open until the end, so no round
    reuses memory another freed; then one run of turns while they are open, and one after they closed (events
    must cost nothing for other users' sockets, open or gone). Returns (RSS before, [(before, after) per round],
    turn times with the sockets open, turn times after they closed)."""
    base = args.server.replace("http", "ws", 1)
    start = proc_kib(args.pid, "VmRSS")
    sockets, rounds = [], []
    for _ in range(args.runs):
        before = proc_kib(args.pid, "VmRSS")
        for _ in range(args.sockets // args.runs):
            token = tokens[len(sockets) // 1000]
            sockets.append(await websockets.connect(f"{base}/ws?token={token}", ping_interval=None))
        await asyncio.sleep(2)
        rounds.append((before, proc_kib(args.pid, "VmRSS")))
    busy = await turns(client, client.token, args)
    await asyncio.gather(*(s.close() for s in sockets))
    await asyncio.sleep(3)  # the server notices the closes
    after = await turns(client, client.token, args)
    return start, rounds, busy, after


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://127.0.0.1:8181")
    parser.add_argument("--key", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", required=True, help="the server's SQLite file")
    args = parser.parse_args()
    client = Client(args.server, args.key)
    samples = []
    for _ in range(args.runs):
        samples.append(asyncio.run(turns(client, client.token, args)))
    p50 = [statistics.median(times) for times in samples]
    p99 = [sorted(times)[max(0, int(len(times) * 0.99) - 1)] for times in samples]
    print(f"### Chat turn overhead ({args.runs} runs of {args.turns} turns; zero-latency model, one tool call, "
          "one tiny query, two model calls)\n")
    print("| p50 ms | p99 ms | fastest turn ms | slowest turn ms |\n|---|---|---|---|")
    print(f"| {cell(p50, 2)} | {cell(p99, 2)} | {min(min(t) for t in samples):.2f} | {max(max(t) for t in samples):.2f} |\n",
          flush=True)
    tokens = extra_sessions(args.db, (args.sockets + 999) // 1000)
    start, rounds, busy, after = asyncio.run(idle_sockets(tokens, client, args))
    per_round = [(after - before) / (args.sockets // args.runs) for before, after in rounds]
    opened = args.sockets // args.runs * args.runs
    print(f"### Idle WebSockets ({opened:,} sockets opened in {args.runs} rounds, all kept open)\n")
    print("| RSS before MiB | RSS with all open MiB | KiB per connection, all | KiB per connection, per round |")
    print("|---|---|---|---|")
    print(f"| {start / 1024:,.1f} | {rounds[-1][1] / 1024:,.1f} | {(rounds[-1][1] - start) / opened:.1f} | {cell(per_round)} |\n",
          flush=True)
    print(f"### Chat turns beside other users' sockets ({args.turns} turns each, as above)\n")
    print("| While | p50 ms | p99 ms |\n|---|---|---|")
    for label, times in [(f"the {opened:,} idle sockets are open", busy), ("they have closed", after)]:
        print(f"| {label} | {statistics.median(times):.2f} | {sorted(times)[max(0, int(len(times) * 0.99) - 1)]:.2f} |")
    print(flush=True)


if __name__ == "__main__":
    main()
