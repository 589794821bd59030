"""MongoDB wire protocol (OP_MSG, legacy OP_QUERY) for the mongod stand-in.

One thread per connection reads a message, runs the command under the
server's global lock (Server.run), and writes the reply.  Replies are
encoded outside the lock: they only refer to immutable documents.
"""

import logging
import socket
import struct
import threading
import time

import bson
from bson.binary import UuidRepresentation

from standin_errors import CloseConnection

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013
MAX_MESSAGE = 48000000
HEADER = struct.Struct('<iiii')
CODEC = bson.CodecOptions(document_class=dict, tz_aware=False,
                          uuid_representation=UuidRepresentation.UNSPECIFIED)
log = logging.getLogger('mongod-standin')


def _recv_exact(rfile, size):
    """Exactly size bytes from a buffered socket reader, or None at EOF."""
    data = rfile.read(size)
    if data is None or len(data) < size:
        return None
    return data


def _cstring(data, pos):
    end = data.index(b'\0', pos)
    return data[pos:end].decode('utf-8'), end + 1


def parse_op_msg(body):
    """(flags, command dict) of an OP_MSG body (after the header)."""
    flags = struct.unpack_from('<I', body, 0)[0]
    end = len(body) - 4 if flags & 1 else len(body)
    pos = 4
    cmd = None
    sequences = []
    while pos < end:
        kind = body[pos]
        pos += 1
        if kind == 0:
            size = struct.unpack_from('<i', body, pos)[0]
            cmd = bson.decode(body[pos:pos + size], CODEC)
            pos += size
        elif kind == 1:
            size = struct.unpack_from('<i', body, pos)[0]
            sec_end = pos + size
            ident, dpos = _cstring(body, pos + 4)
            docs = list(bson.decode_iter(body[dpos:sec_end], CODEC))
            sequences.append((ident, docs))
            pos = sec_end
        else:
            raise ValueError('unknown OP_MSG section kind %d' % kind)
    if cmd is None:
        raise ValueError('OP_MSG without a body section')
    for ident, docs in sequences:
        cmd.setdefault(ident, [])
        cmd[ident].extend(docs)
    return flags, cmd


def parse_op_query(body):
    """(database, command dict) of a legacy OP_QUERY on db.$cmd."""
    pos = 4
    name, pos = _cstring(body, pos)
    pos += 8
    size = struct.unpack_from('<i', body, pos)[0]
    query = bson.decode(body[pos:pos + size], CODEC)
    if '$query' in query:
        query = query['$query']
    return name.split('.', 1)[0], name, query


def build_op_msg(request_id, reply):
    payload = b'\0\0\0\0\0' + bson.encode(reply)
    header = HEADER.pack(16 + len(payload), 0, request_id, OP_MSG)
    return header + payload


def build_op_reply(request_id, reply):
    payload = struct.pack('<iqii', 0, 0, 0, 1) + bson.encode(reply)
    header = HEADER.pack(16 + len(payload), 0, request_id, OP_REPLY)
    return header + payload


class Connection(threading.Thread):
    """Serves one client connection until it closes."""

    def __init__(self, server, sock, conn_id, verbose):
        super().__init__(daemon=True, name='conn%d' % conn_id)
        self.server = server
        self.sock = sock
        self.rfile = sock.makefile('rb', buffering=256 * 1024)
        self.conn_id = conn_id
        self.verbose = verbose

    def run(self):
        try:
            self._serve()
        except (OSError, ValueError, bson.errors.BSONError) as exc:
            log.debug('conn%d: %s', self.conn_id, exc)
        except CloseConnection:
            log.info('conn%d: closed by failpoint', self.conn_id)
        finally:
            try:
                self.rfile.close()
                self.sock.close()
            except OSError:
                pass

    def _serve(self):
        while True:
            header = _recv_exact(self.rfile, 16)
            if header is None:
                return
            length, request_id, _, opcode = HEADER.unpack(header)
            if length < 16 or length > MAX_MESSAGE:
                raise ValueError('bad message length %d' % length)
            body = _recv_exact(self.rfile, length - 16)
            if body is None:
                return
            out = self._handle(opcode, request_id, body)
            if out is not None:
                self.sock.sendall(out)

    def _handle(self, opcode, request_id, body):
        if opcode == OP_MSG:
            flags, cmd = parse_op_msg(body)
            db = cmd.get('$db', 'admin')
            reply = self._run(cmd, db)
            if flags & 2:
                return None
            return build_op_msg(request_id, reply)
        if opcode == OP_QUERY:
            db, name, cmd = parse_op_query(body)
            if not name.endswith('.$cmd'):
                reply = {'$err': 'the mongod stand-in answers legacy '
                         'OP_QUERY only for commands', 'code': 352,
                         'ok': 0.0}
            else:
                reply = self._run(cmd, db)
            return build_op_reply(request_id, reply)
        raise ValueError('unsupported opcode %d' % opcode)

    def _run(self, cmd, db):
        start = time.monotonic()
        reply = self.server.run(cmd, db, self.conn_id)
        if self.verbose:
            name = next(iter(cmd)) if cmd else '?'
            log.info('conn%d %s.%s ok=%s %.2fms%s', self.conn_id, db, name,
                     reply.get('ok'), (time.monotonic() - start) * 1000,
                     '' if reply.get('ok') else ' ' +
                     str(reply.get('errmsg')))
        return reply


def serve_forever(server, listener, verbose):
    """Accept connections until a signal handler raises."""
    conn_id = 0
    while True:
        sock, _ = listener.accept()
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn_id += 1
        server.conn_counter = conn_id
        Connection(server, sock, conn_id, verbose).start()
