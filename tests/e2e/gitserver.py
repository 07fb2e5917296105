"""A read-only git server over smart HTTP, for Flux in the kind clusters (tests/e2e).

``python gitserver.py ROOT PORT`` serves every bare repository below ROOT at
``http://HOST:PORT/<name>.git`` through ``git http-backend`` (CGI), the protocol Flux's
source-controller speaks; pushes are refused (the tier writes the bare repository directly).
It runs in a container on the kind network (``plan.GitServer``) and, in the unit tests, on
localhost. Standard library only: the container has Python and git, nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROOT = os.environ.get("GIT_PROJECT_ROOT", "")
READ_ONLY_SERVICES = ("git-upload-pack",)


def cgi_environment(root: str, method: str, target: str, headers: dict[str, str]) -> dict[str, str]:
    """The CGI variables git http-backend needs for one request."""
    parts = urlsplit(target)
    return {
        "GIT_PROJECT_ROOT": root,
        "GIT_HTTP_EXPORT_ALL": "1",
        "REQUEST_METHOD": method,
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": headers.get("Content-Length", ""),
        "HTTP_GIT_PROTOCOL": headers.get("Git-Protocol", ""),
        "REMOTE_ADDR": "127.0.0.1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }


def allowed(target: str) -> bool:
    """Reads only: the ref advertisement and upload-pack, never receive-pack."""
    parts = urlsplit(target)
    if parts.path.endswith("/git-receive-pack") or "service=git-receive-pack" in parts.query:
        return False
    return ".." not in parts.path.split("/")


class Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        if not allowed(self.path):
            self.send_error(403, "read-only")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = cgi_environment(ROOT, self.command, self.path, dict(self.headers))
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = 200
        header_lines = []
        for line in head.split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.strip().split(" ", 1)[0])
            elif name:
                header_lines.append((name, value.strip()))
        self.send_response(status)
        for name, value in header_lines:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("gitserver: " + (format % args) + "\n")


def main(argv: list[str]) -> None:
    global ROOT
    ROOT, port = argv[1], int(argv[2])
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"gitserver: serving {ROOT} on port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
