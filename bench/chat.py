"""Chat measurements against a running Tabletalk whose LLM is bench/fake_llm.py (zero latency):
turn overhead from the POST to `chat_complete` (one tool call running one tiny query, then the answer), and the
memory of many idle WebSocket connections.

    python bench/chat.py --server http://127.0.0.1:8181 --key KEY --pid SERVER_PID --turns 200 --sockets 10000
"""
import argparse
import asyncio
import json
import statistics
import time
import urllib.request

import websockets

from datasets import Client


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def turns(client, token, args):
    conversation = client.call("POST", "/conversations")["id"]
    # A tiny table for the tool call's query.
    import os
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "t.csv")
    with open(path, "w") as f:
        f.write("a\n1\n2\n3\n")
    client.upload(f"/conversations/{conversation}/datasets/upload", path, "t")
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


async def idle_sockets(token, args):
    tokens = extra_sessions(args.db, (args.sockets + 999) // 1000)
    base = args.server.replace("http", "ws", 1)
    before = rss_kib(args.pid)
    sockets = []
    for i in range(args.sockets):
        url = f"{base}/ws?token={tokens[i // 1000]}"
        sockets.append(await websockets.connect(url, ping_interval=None))
    await asyncio.sleep(2)
    after = rss_kib(args.pid)
    await asyncio.gather(*(s.close() for s in sockets))
    return before, after


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://127.0.0.1:8181")
    parser.add_argument("--key", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--db", required=True, help="the server's SQLite file")
    args = parser.parse_args()
    client = Client(args.server, args.key)
    token = next(c.value for c in client.jar if c.name == "session_token")
    times = asyncio.run(turns(client, token, args))
    times.sort()
    p99 = times[int(len(times) * 0.99) - 1]
    print(f"### Chat turn overhead ({args.turns} turns, zero-latency model, one tool call + one tiny query)\n")
    print("| p50 ms | p99 ms | min ms | max ms |\n|---|---|---|---|")
    print(f"| {statistics.median(times):.2f} | {p99:.2f} | {times[0]:.2f} | {times[-1]:.2f} |\n")
    before, after = asyncio.run(idle_sockets(token, args))
    per = (after - before) * 1024 / args.sockets
    print(f"### Idle WebSockets\n\n| sockets | RSS before | RSS with them open | per connection |\n|---|---|---|---|")
    print(f"| {args.sockets:,} | {before / 1024:.1f} MiB | {after / 1024:.1f} MiB | {per / 1024:.1f} KiB |")


if __name__ == "__main__":
    main()
