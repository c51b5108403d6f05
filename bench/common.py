"""What every benchmark script shares: an HTTP client signed in to Tabletalk's local mode, repeated timing, the
median/min/max cell of the results tables, and the server's memory from /proc."""
import http.client
import http.cookiejar
import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"{status} {body[:500]}")
        self.status = status
        self.body = body


class Client:
    """Tabletalk's REST API as the web client uses it: a session cookie from `POST /auth/dev-login`."""

    def __init__(self, base, key):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.call("POST", "/auth/dev-login", {"referral_key": key})

    @property
    def token(self):
        return next(c.value for c in self.jar if c.name == "session_token")

    def call(self, method, path, body=None):
        """The decoded JSON answer; a non-2xx answer raises ApiError."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Origin", self.base)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=3600) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode()) from None

    def conversation(self):
        return self.call("POST", "/conversations")["id"]

    def query(self, conversation, sql):
        return self.call("POST", f"/conversations/{conversation}/query", {"sql": sql})

    def upload(self, conversation, file_path, name):
        """`POST …/datasets/upload` streaming the file from disk in a multipart body."""
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n{name}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{os.path.basename(file_path)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = len(head) + os.path.getsize(file_path) + len(tail)

        def body():
            yield head
            with open(file_path, "rb") as f:
                while piece := f.read(1 << 20):
                    yield piece
            yield tail

        connection = http.client.HTTPConnection(self.base.split("//", 1)[1], timeout=3600)
        connection.request(
            "POST",
            f"/conversations/{conversation}/datasets/upload",
            body=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(size),
                "Cookie": "; ".join(f"{c.name}={c.value}" for c in self.jar),
                "Origin": self.base,
            },
        )
        response = connection.getresponse()
        text = response.read()
        if response.status != 201:
            raise ApiError(response.status, text.decode(errors="replace"))
        return json.loads(text)


def timed(fn, runs, warm_up=True):
    """Milliseconds of `runs` calls of fn, after one unmeasured call when warm_up."""
    if warm_up:
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def cell(values, digits=1, unit=""):
    """`median (min–max)` — the form of every measured cell in docs/benchmarks.md."""
    if len(values) == 1:
        return f"{values[0]:,.{digits}f}{unit}"
    median = statistics.median(values)
    return f"{median:,.{digits}f}{unit} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def ratio(ours, theirs):
    return f"{statistics.median(ours) / statistics.median(theirs):.2f}×"


def proc_kib(pid, field):
    """A `kB` field of /proc/<pid>/status, e.g. VmRSS or VmHWM."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)
