"""A static file server with HEAD, single byte ranges (206) and ETag that counts the body bytes it sends.

    python bench/file_server.py --root data --port 8765
GET /__bytes answers the count so far; GET /__reset sets it to zero.
"""
import argparse
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNT = {"bytes": 0}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _file(self):
        path = os.path.normpath(os.path.join(self.root, self.path.split("?")[0].lstrip("/")))
        if not path.startswith(os.path.abspath(self.root)) or not os.path.isfile(path):
            return None
        return path

    def _headers(self, status, length, path, extra=()):
        st = os.stat(path)
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{st.st_size:x}-{int(st.st_mtime):x}"')
        self.send_header("Last-Modified", self.date_time_string(int(st.st_mtime)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()

    def do_HEAD(self):
        path = self._file()
        if not path:
            self.send_error(404)
            return
        self._headers(200, os.path.getsize(path), path)

    def do_GET(self):
        if self.path in ("/__bytes", "/__reset"):
            with LOCK:
                value = COUNT["bytes"]
                if self.path == "/__reset":
                    COUNT["bytes"] = 0
            body = str(value).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path = self._file()
        if not path:
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start, end, status, extra = 0, size - 1, 200, []
        spec = self.headers.get("Range", "")
        if spec.startswith("bytes=") and "," not in spec:
            first, _, last = spec[6:].partition("-")
            if first == "":
                start = max(0, size - int(last))
            else:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
            status = 206
            extra = [("Content-Range", f"bytes {start}-{end}/{size}")]
        length = end - start + 1
        self._headers(status, length, path, extra)
        with open(path, "rb") as f:
            f.seek(start)
            left = length
            while left:
                piece = f.read(min(left, 1 << 20))
                if not piece:
                    break
                self.wfile.write(piece)
                left -= len(piece)
                with LOCK:
                    COUNT["bytes"] += len(piece)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=".")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    Handler.root = os.path.abspath(args.root)
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
