"""One Redis command over a unix socket, for the Python of the suites
and benchmarks (RESP2: status, error, integer, bulk, array)."""

import socket


class RedisError(RuntimeError):
    """An error reply (-ERR, -READONLY...)."""


def command(path, *args, timeout=5):
    """Send one command to the server at the unix socket path; return
    the decoded reply: str, int, None (nil) or a list of those."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        out = b'*%d\r\n' % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b'$%d\r\n%s\r\n' % (len(a), a)
        s.sendall(out)
        with s.makefile('rb') as f:
            return _read(f)
    finally:
        s.close()


def _read(f):
    line = f.readline()
    if not line.endswith(b'\r\n'):
        raise OSError('connection closed in a reply')
    t, rest = line[:1], line[1:-2]
    if t == b'+':
        return rest.decode()
    if t == b'-':
        raise RedisError(rest.decode())
    if t == b':':
        return int(rest)
    if t == b'$':
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if t == b'*':
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise OSError('bad reply %r' % line)
