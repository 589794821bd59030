"""Database commands of the mongod stand-in (test and demo equipment).

Server.run() executes one command under the global lock and returns the
reply document.  Anything not listed in COMMANDS is CommandNotFound.
"""

import datetime
import logging
import os
import random
import sys
import threading
import time

import bson
from bson import Int64, ObjectId
from bson.binary import Binary
from bson.raw_bson import RawBSONDocument
from bson.timestamp import Timestamp
import mongomock
from mongomock import aggregate as mm_aggregate

from standin_errors import CommandError, CloseConnection, bad_value, \
    failed_to_parse, ns_not_found
from standin_store import Store, dcopy, hkey, matches, sort_docs, \
    path_values, strict_equal
from standin_update import apply_update, upsert_document, \
    is_operator_update
from standin_changes import update_description
from standin_changes import ChangeLog, ChangeStream, BATCH_BYTES, \
    expand_stage, operator_description
from standin_sessions import Session, Transaction, TxnAbort, TxnServer, \
    RETRYABLE_WRITES, RETRYABLE_WRITE_CODES, TXN_COMMANDS, \
    TXN_LIFETIME_SECONDS, commit, no_such_transaction, release

MAX_WIRE_VERSION = 17
VERSION = '6.0.0-standin'
DEFAULT_AWAIT_MS = 1000
CURSOR_IDLE_SECONDS = 600
SESSION_IDLE_SECONDS = 1800
RESUMABLE_CODES = {6, 7, 43, 63, 89, 91, 133, 150, 189, 234, 262, 9001,
                   10107, 11600, 11602, 13388, 13435, 13436}
CODE_NAMES = {6: 'HostUnreachable', 7: 'HostNotFound', 43: 'CursorNotFound',
              89: 'NetworkTimeout', 91: 'ShutdownInProgress',
              189: 'PrimarySteppedDown', 262: 'ExceededTimeLimit',
              9001: 'SocketException', 10107: 'NotWritablePrimary',
              11600: 'InterruptedAtShutdown', 280: 'ChangeStreamFatalError',
              286: 'ChangeStreamHistoryLost'}
SIGNATURE = {'hash': Binary(b'\0' * 20, 0), 'keyId': Int64(0)}
INDEX_OPTIONS = ('unique', 'sparse', 'partialFilterExpression',
                 'expireAfterSeconds', 'collation', 'hidden')
log = logging.getLogger('mongod-standin')


def _sum_values(values):
    """$sum as MongoDB types it: Int64 in, Int64 out; int32 overflows."""
    total = 0
    kind = int
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float):
            kind = float
        elif isinstance(value, Int64) and kind is int:
            kind = Int64
        total += value
    if kind is float:
        return float(total)
    if kind is Int64 or not -(1 << 31) <= total < (1 << 31):
        return Int64(total)
    return int(total)


mm_aggregate._GROUPING_OPERATOR_MAP['$sum'] = _sum_values


def _post_images(coll):
    """True when the collection stores post-images for change streams."""
    opt = coll.options.get('changeStreamPreAndPostImages')
    return isinstance(opt, dict) and bool(opt.get('enabled'))


def _wrap_ts(pos):
    return Timestamp(pos[0], pos[1])


class Cursor:
    """A server-side cursor over a fixed list of documents."""

    def __init__(self, cursor_id, ns, docs, projection=None):
        self.id = cursor_id
        self.ns = ns
        self.docs = docs
        self.pos = 0
        self.projection = projection
        self.stream = None
        self.touched = time.monotonic()

    def take(self, limit):
        out = []
        size = 0
        while self.pos < len(self.docs) and len(out) < limit and \
                size < BATCH_BYTES:
            doc = self.docs[self.pos]
            self.pos += 1
            if self.projection:
                doc = project(doc, self.projection)
            raw = RawBSONDocument(bson.encode(doc))
            size += len(raw.raw)
            out.append(raw)
        return out

    @property
    def exhausted(self):
        return self.pos >= len(self.docs)


def _projection_tree(spec):
    """(tree, inclusive) of a find projection."""
    tree = {}
    inclusive = None
    for field, value in spec.items():
        if isinstance(value, dict) or field == '_id':
            continue
        inclusive = bool(value)
        break
    if inclusive is None:
        inclusive = any(isinstance(v, dict) for v in spec.values()) or \
            (spec.get('_id') not in (None, 0, False) and len(spec) == 1)
    for field, value in spec.items():
        node = tree
        parts = field.split('.')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if node is True:
                break
        if isinstance(node, dict):
            node[parts[-1]] = value if isinstance(value, dict) else \
                bool(value)
    return tree, inclusive


def _include(doc, tree):
    out = {}
    for key, val in doc.items():
        sub = tree.get(key)
        if sub is None or sub is False:
            continue
        if sub is True:
            out[key] = val
        elif isinstance(sub, dict) and '$slice' in sub and \
                isinstance(val, list):
            n = sub['$slice']
            out[key] = val[:n] if isinstance(n, int) and n >= 0 else \
                val[n:] if isinstance(n, int) else val[n[0]:n[0] + n[1]]
        elif isinstance(sub, dict) and '$elemMatch' in sub and \
                isinstance(val, list):
            for elem in val:
                if matches(sub['$elemMatch'], elem):
                    out[key] = [elem]
                    break
        elif isinstance(val, dict):
            out[key] = _include(val, sub)
        elif isinstance(val, list):
            out[key] = [_include(e, sub) for e in val
                        if isinstance(e, dict)]
    return out


def _exclude(doc, tree):
    out = {}
    for key, val in doc.items():
        sub = tree.get(key)
        if sub is False:
            continue
        if isinstance(sub, dict) and isinstance(val, dict):
            out[key] = _exclude(val, sub)
        elif isinstance(sub, dict) and isinstance(val, list):
            out[key] = [_exclude(e, sub) if isinstance(e, dict) else e
                        for e in val]
        else:
            out[key] = val
    return out


def project(doc, spec):
    """doc shaped by a find projection (a new dict)."""
    if not spec:
        return doc
    tree, inclusive = _projection_tree(spec)
    if inclusive:
        if '_id' not in tree:
            tree['_id'] = True
        elif tree['_id'] is False:
            del tree['_id']
        return _include(doc, tree)
    return _exclude(doc, tree)


class _DbShim:
    """What mongomock's $lookup needs from a database."""

    def __init__(self, server, db):
        self.server = server
        self.db = db

    def get_collection(self, name):
        return _CollShim(self.server.store.coll(self.db, name))


class _CollShim:
    def __init__(self, coll):
        self.coll = coll

    def find(self, filt):
        if self.coll is None:
            return []
        return [dcopy(d) for d in self.coll.find(filt)]


def _int_opt(cmd, name, default):
    value = cmd.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CommandError(14, 'TypeMismatch',
                           "BSON field '%s' is the wrong type '%s', "
                           "expected types '[long, int, decimal, double]'" %
                           (name, type(value).__name__))
    return int(value)


class Server:
    """Shared state: data, change log, cursors, and the global lock."""

    def __init__(self, history, host):
        self.store = Store()
        self.log = ChangeLog(history)
        self.cursors = {}
        self.cond = threading.Condition(threading.Lock())
        self.host = host
        self.failpoint = None
        self.started = time.time()
        self.conn_counter = 0
        self.argv = list(sys.argv)
        self.last_sweep = time.monotonic()
        self.sessions = {}      # lsid id -> Session
        self.active_txns = set()
        self.txn_locks = {}     # (db, coll, hkey) -> Transaction
        # setParameter transactionLifetimeLimitSeconds, as on mongod.
        self.txn_lifetime = TXN_LIFETIME_SECONDS

    # -- replies ---------------------------------------------------------

    def _gossip(self, reply):
        ts = self.log.cluster_time()
        reply['$clusterTime'] = {'clusterTime': ts, 'signature': SIGNATURE}
        reply['operationTime'] = ts
        return reply

    def run(self, cmd, db, conn_id):
        """Run one command; returns the reply document.

        Raises CloseConnection when a failpoint says to drop the client.
        """
        if not cmd:
            return self._gossip(CommandError(
                59, 'CommandNotFound', 'no such command: \'\'').reply())
        name = next(iter(cmd))
        handler = COMMANDS.get(name)
        hold = 0
        with self.cond:
            before = self.log.last
            try:
                hold, error = self._failpoint(name, cmd)
                if error is not None:
                    raise error
                if handler is None:
                    raise CommandError(59, 'CommandNotFound',
                                       "no such command: '%s'" % name)
                reply = self._dispatch(name, handler, cmd, db, conn_id)
                reply['ok'] = 1.0
            except TxnAbort as exc:
                reply = exc.error.reply()
            except CommandError as exc:
                reply = exc.reply()
            except mongomock.OperationFailure as exc:
                reply = CommandError(exc.code or 2, 'BadValue',
                                     str(exc)).reply()
            except CloseConnection:
                raise
            except Exception as exc:  # a stand-in bug must not kill it
                log.exception('command %s failed', name)
                reply = CommandError(1, 'InternalError',
                                     'mongod stand-in internal error: %r'
                                     % (exc,)).reply()
            if self.log.last != before:
                self.cond.notify_all()
            reply = self._gossip(reply)
        if hold:
            time.sleep(hold)
        return reply

    # -- sessions, retryable writes, transactions -------------------------

    def _session(self, cmd):
        lsid = cmd.get('lsid')
        if not isinstance(lsid, dict) or 'id' not in lsid:
            return None
        key = lsid['id']
        sess = self.sessions.get(key)
        if sess is None:
            sess = Session(key)
            self.sessions[key] = sess
        sess.used = time.monotonic()
        return sess

    def _dispatch(self, name, handler, cmd, db, conn_id):
        """Run a command as a plain, retryable or transaction command."""
        if self.active_txns:
            self._expire_txns()
        sess = self._session(cmd)
        number = cmd.get('txnNumber')
        if sess is None or number is None:
            if name in RETRYABLE_WRITES and self.txn_locks:
                self._wait_for_locks(name, cmd, db)
            return handler(self, cmd, db, conn_id)
        number = int(number)
        if cmd.get('autocommit') is False:
            return self._in_transaction(sess, number, name, handler, cmd,
                                        db, conn_id)
        if name not in RETRYABLE_WRITES:
            return handler(self, cmd, db, conn_id)
        return self._retryable(sess, number, name, handler, cmd, db,
                               conn_id)

    def _retryable(self, sess, number, name, handler, cmd, db, conn_id):
        """A retryable write: a retry of a done txnNumber gets its reply."""
        if number < sess.txn_number:
            raise CommandError(
                225, 'TransactionTooOld',
                'Retryable write with txnNumber %d is prohibited on session '
                'because a newer retryable write with txnNumber %d has '
                'already started on this session.' % (number,
                                                      sess.txn_number))
        if number == sess.txn_number:
            if sess.reply is not None and sess.reply_cmd == name:
                return dict(sess.reply)
            if sess.txn is not None:
                raise CommandError(
                    50911, 'Location50911',
                    'Cannot start a retryable write at txnNumber %d: a '
                    'transaction with the same number exists' % number)
        else:
            self._end_transaction(sess)
            sess.txn_number = number
            sess.reply = None
        if self.txn_locks:
            self._wait_for_locks(name, cmd, db)
        reply = handler(self, cmd, db, conn_id)
        sess.reply = dict(reply)
        sess.reply_cmd = name
        return reply

    def _end_transaction(self, sess):
        txn = sess.txn
        if txn is not None and txn.state == 'inProgress':
            release(self, txn, 'aborted')
        sess.txn = None

    def _expire_txns(self):
        for txn in [t for t in self.active_txns
                    if t.expired(self.txn_lifetime)]:
            log.info('transaction %d aborted: lifetime limit', txn.number)
            release(self, txn, 'aborted')

    def _start_transaction(self, sess, number):
        if number < sess.txn_number:
            raise CommandError(
                225, 'TransactionTooOld',
                'txnNumber %d is less than last txnNumber %d seen in this '
                'session' % (number, sess.txn_number))
        if number == sess.txn_number:
            state = sess.txn.state if sess.txn is not None else \
                'retryable write'
            raise CommandError(
                50911, 'Location50911',
                'Cannot start a transaction at given transaction number %d '
                'a transaction with the same number is in state %s' %
                (number, state))
        self._end_transaction(sess)
        sess.txn_number = number
        sess.reply = None
        txn = Transaction(self, sess, number)
        sess.txn = txn
        self.active_txns.add(txn)
        return txn

    def _in_transaction(self, sess, number, name, handler, cmd, db,
                        conn_id):
        """One command of a multi-document transaction."""
        if cmd.get('startTransaction'):
            txn = self._start_transaction(sess, number)
        else:
            txn = sess.txn
            if number < sess.txn_number:
                raise CommandError(
                    225, 'TransactionTooOld',
                    'txnNumber %d is less than last txnNumber %d seen in '
                    'this session' % (number, sess.txn_number))
            if number != sess.txn_number or txn is None or \
                    txn.state == 'aborted':
                raise no_such_transaction(number)
            if txn.state == 'committed':
                if name == 'commitTransaction':
                    return {}
                raise CommandError(256, 'TransactionCommitted',
                                   'Transaction %d has been committed.' %
                                   number)
        if name == 'commitTransaction':
            commit(self, txn)
            return {}
        if name == 'abortTransaction':
            release(self, txn, 'aborted')
            return {}
        pipeline = cmd.get('pipeline') if name == 'aggregate' else None
        if name not in TXN_COMMANDS or '$changeStream' in str(pipeline):
            release(self, txn, 'aborted')
            raise CommandError(263, 'OperationNotSupportedInTransaction',
                               "Cannot run '%s' in a multi-document "
                               'transaction.' % name)
        try:
            reply = handler(TxnServer(self, txn), cmd, db, conn_id)
        except (CommandError, TxnAbort, mongomock.OperationFailure):
            release(self, txn, 'aborted')
            raise
        if reply.get('writeErrors'):
            release(self, txn, 'aborted')
        return reply

    def _locked_keys(self, name, cmd, db):
        """Keys of the documents a plain write would touch."""
        coll_name = cmd.get(name)
        coll = self.store.coll(db, coll_name) \
            if isinstance(coll_name, str) else None
        if coll is None:
            return []
        docs = []
        if name == 'insert':
            return [(db, coll_name, hkey(d['_id']))
                    for d in cmd.get('documents') or [] if '_id' in d]
        if name == 'update':
            for spec in cmd.get('updates') or []:
                docs += coll.find(spec.get('q') or {},
                                  limit=0 if spec.get('multi') else 1)
        elif name == 'delete':
            for spec in cmd.get('deletes') or []:
                docs += coll.find(spec.get('q') or {},
                                  limit=1 if spec.get('limit') else 0)
        else:
            docs = coll.find(cmd.get('query') or {}, cmd.get('sort'),
                             limit=1)
        return [(db, coll_name, hkey(d['_id'])) for d in docs]

    def _wait_for_locks(self, name, cmd, db):
        """A plain write waits while a transaction holds its documents."""
        deadline = time.monotonic() + self.txn_lifetime + 1
        while self.txn_locks:
            keys = self._locked_keys(name, cmd, db)
            if not any(k in self.txn_locks for k in keys):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommandError(50, 'MaxTimeMSExpired',
                                   'operation exceeded time limit')
            self.cond.wait(min(left, 0.2))
            self._expire_txns()

    def _failpoint(self, name, cmd):
        """(seconds to hold the reply, error to answer) of failCommand."""
        fp = self.failpoint
        if fp is None or name == 'configureFailPoint':
            return 0, None
        data = fp['data']
        if name not in data.get('failCommands', []):
            return 0, None
        if fp['skip'] > 0:
            fp['skip'] -= 1
            return 0, None
        if fp['times'] is not None:
            fp['times'] -= 1
            if fp['times'] <= 0:
                self.failpoint = None
        if data.get('closeConnection'):
            raise CloseConnection()
        hold = 0
        if data.get('blockConnection'):
            hold = max(0, data.get('blockTimeMS', 0)) / 1000.0
        code = data.get('errorCode')
        if code is None:
            return hold, None
        labels = data.get('errorLabels')
        if labels is None:
            labels = []
            cursor = self.cursors.get(cmd.get('getMore')) \
                if name == 'getMore' else None
            is_stream = cursor is not None and cursor.stream is not None
            if (is_stream or '$changeStream' in str(cmd.get('pipeline'))) \
                    and code in RESUMABLE_CODES:
                labels = ['ResumableChangeStreamError']
            retryable = 'txnNumber' in cmd and (
                name in ('commitTransaction', 'abortTransaction') or
                (name in RETRYABLE_WRITES and 'autocommit' not in cmd))
            if retryable and code in RETRYABLE_WRITE_CODES:
                labels = ['RetryableWriteError']
        return hold, CommandError(code, CODE_NAMES.get(code, 'FailPoint'),
                                  "Failing command via 'failCommand' "
                                  'failpoint', labels=labels)

    # -- cursors ---------------------------------------------------------

    def new_cursor_id(self):
        self._sweep_cursors()
        while True:
            cid = Int64(random.randint(1, (1 << 62)))
            if cid not in self.cursors:
                return cid

    def _sweep_cursors(self):
        now = time.monotonic()
        if now - self.last_sweep < 60:
            return
        self.last_sweep = now
        for cid in [c.id for c in self.cursors.values()
                    if now - c.touched > CURSOR_IDLE_SECONDS]:
            del self.cursors[cid]
        for key in [k for k, v in self.sessions.items()
                    if now - v.used > SESSION_IDLE_SECONDS]:
            self._end_transaction(self.sessions.pop(key))

    def cursor_reply(self, ns, docs, first, limit_batch, single=False,
                     projection=None):
        """{cursor: {firstBatch, id, ns}} keeping the rest for getMore."""
        cur = Cursor(Int64(0), ns, docs, projection)
        batch = cur.take(limit_batch)
        cid = Int64(0)
        if not single and not cur.exhausted:
            cid = self.new_cursor_id()
            cur.id = cid
            self.cursors[cid] = cur
        key = 'firstBatch' if first else 'nextBatch'
        return {'cursor': {key: batch, 'id': cid, 'ns': ns}}

    def snapshot(self):
        return {'store': self.store.snapshot(), 'log': self.log.snapshot()}

    def restore(self, snap):
        self.store.restore(snap['store'])
        self.log.restore(snap['log'])


def _coll_name(cmd, name):
    value = cmd[name]
    if not isinstance(value, str) or not value:
        raise CommandError(73, 'InvalidNamespace',
                           "Invalid namespace specified '%s'" % (value,))
    return value


def _batch_size(cmd, default):
    cursor = cmd.get('cursor') or {}
    value = cmd.get('batchSize', cursor.get('batchSize'))
    if value is None:
        return default
    if value < 0:
        raise bad_value('BatchSize value must be non-negative, but '
                        'received: %d' % value)
    return int(value)


# -- handshake and diagnostics --------------------------------------------

def cmd_hello(srv, cmd, db, conn_id):
    legacy = next(iter(cmd)).lower() == 'ismaster'
    now = datetime.datetime.utcnow()
    ts = srv.log.cluster_time()
    optime = {'ts': ts, 't': Int64(1)}
    reply = {}
    if cmd.get('helloOk'):
        reply['helloOk'] = True
    reply['ismaster' if legacy else 'isWritablePrimary'] = True
    reply.update({
        'hosts': [srv.host], 'setName': 'rs0', 'setVersion': 1,
        'secondary': False, 'primary': srv.host, 'me': srv.host,
        'electionId': ObjectId('7fffffff0000000000000001'),
        'lastWrite': {'opTime': optime, 'lastWriteDate': now,
                      'majorityOpTime': optime,
                      'majorityWriteDate': now},
        'maxBsonObjectSize': 16 * 1024 * 1024,
        'maxMessageSizeBytes': 48000000,
        'maxWriteBatchSize': 100000,
        'localTime': now,
        'logicalSessionTimeoutMinutes': 30,
        'connectionId': conn_id,
        'minWireVersion': 0,
        'maxWireVersion': MAX_WIRE_VERSION,
        'readOnly': False,
    })
    return reply


def cmd_ping(srv, cmd, db, conn_id):
    return {}


def cmd_build_info(srv, cmd, db, conn_id):
    return {'version': VERSION, 'gitVersion': 'mongod-standin',
            'versionArray': [6, 0, 0, 0], 'bits': 64, 'debug': False,
            'maxBsonObjectSize': 16 * 1024 * 1024,
            'storageEngines': ['standin-memory'],
            'modules': [], 'javascriptEngine': 'none'}


def cmd_get_parameter(srv, cmd, db, conn_id):
    params = {'featureCompatibilityVersion': {'version': '6.0'},
              'authenticationMechanisms': [],
              'logLevel': 0,
              'transactionLifetimeLimitSeconds': srv.txn_lifetime}
    if cmd.get('getParameter') == '*':
        return dict(params)
    out = {k: v for k, v in params.items() if k in cmd}
    if not out:
        raise CommandError(72, 'InvalidOptions', 'no option found to get')
    return out


def set_txn_lifetime(srv, value):
    """transactionLifetimeLimitSeconds: a whole number of seconds >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            value != int(value) or value < 1:
        raise CommandError(
            2, 'BadValue', "Invalid value for parameter "
            "transactionLifetimeLimitSeconds: %r is not greater than or "
            "equal to 1" % (value,))
    was = srv.txn_lifetime
    srv.txn_lifetime = int(value)
    return was


def cmd_set_parameter(srv, cmd, db, conn_id):
    """Only transactionLifetimeLimitSeconds, which tests lower."""
    if db != 'admin':
        raise CommandError(13, 'Unauthorized', 'setParameter may only be '
                           'run against the admin database.')
    names = [k for k in cmd if k != 'setParameter' and not k.startswith('$')
             and k not in ('lsid', 'comment')]
    if not names:
        raise CommandError(2, 'BadValue', 'no option found to set, use '
                           'help:true to see options')
    for name in names:
        if name != 'transactionLifetimeLimitSeconds':
            raise CommandError(2, 'BadValue', 'attempted to set '
                               'unrecognized parameter [%s], use help:true '
                               'to see options' % name)
    was = set_txn_lifetime(srv, cmd['transactionLifetimeLimitSeconds'])
    log.info('transactionLifetimeLimitSeconds: %d (was %d)',
             srv.txn_lifetime, was)
    return {'was': was}


def cmd_get_cmd_line_opts(srv, cmd, db, conn_id):
    return {'argv': srv.argv, 'parsed': {}}


def cmd_server_status(srv, cmd, db, conn_id):
    return {'host': srv.host, 'version': VERSION,
            'process': 'mongod-standin', 'pid': Int64(os.getpid()),
            'uptime': float(time.time() - srv.started),
            'localTime': datetime.datetime.utcnow(),
            'connections': {'totalCreated': srv.conn_counter},
            'transactions': {'currentOpen': Int64(len(srv.active_txns))}}


def cmd_repl_set_get_status(srv, cmd, db, conn_id):
    now = datetime.datetime.utcnow()
    return {'set': 'rs0', 'date': now, 'myState': 1,
            'members': [{'_id': 0, 'name': srv.host, 'health': 1.0,
                         'state': 1, 'stateStr': 'PRIMARY',
                         'self': True}]}


def cmd_whatsmyuri(srv, cmd, db, conn_id):
    return {'you': srv.host}


def cmd_noop(srv, cmd, db, conn_id):
    return {}


def cmd_end_sessions(srv, cmd, db, conn_id):
    for lsid in cmd.get(next(iter(cmd))) or []:
        if not isinstance(lsid, dict):
            continue
        sess = srv.sessions.pop(lsid.get('id'), None)
        if sess is not None:
            srv._end_transaction(sess)
    return {}


def cmd_outside_transaction(srv, cmd, db, conn_id):
    raise CommandError(50768, 'Location50768',
                       '%s must be run within a transaction' %
                       next(iter(cmd)))


def cmd_start_session(srv, cmd, db, conn_id):
    return {'id': {'id': Binary(os.urandom(16), 4)}, 'timeoutMinutes': 30}


def cmd_configure_fail_point(srv, cmd, db, conn_id):
    if cmd['configureFailPoint'] != 'failCommand':
        raise bad_value('the mongod stand-in knows only the failCommand '
                        'failpoint')
    mode = cmd.get('mode')
    if mode == 'off':
        srv.failpoint = None
        return {'count': 0}
    times = None
    skip = 0
    if isinstance(mode, dict):
        times = mode.get('times')
        skip = mode.get('skip', 0)
    elif mode != 'alwaysOn':
        raise bad_value('unknown failpoint mode')
    srv.failpoint = {'data': cmd.get('data') or {}, 'times': times,
                     'skip': skip}
    return {'count': 0}


# -- writes ----------------------------------------------------------------

def _write_reply(n, errors):
    reply = {'n': n}
    if errors:
        reply['writeErrors'] = errors
    return reply


def cmd_insert(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'insert')
    docs = cmd.get('documents') or []
    ordered = cmd.get('ordered', True)
    coll = srv.store.coll(db, name, create=True)
    n = 0
    errors = []
    for i, doc in enumerate(docs):
        if '_id' not in doc:
            doc = dict([('_id', ObjectId())] + list(doc.items()))
        try:
            coll.insert(doc)
        except CommandError as exc:
            errors.append(exc.write_error(i))
            if ordered:
                break
            continue
        srv.log.record('insert', db, name, {'_id': doc['_id']}, doc)
        n += 1
    return _write_reply(n, errors)


def _update_one_doc(srv, db, coll, old, spec):
    """Apply one update to one stored document; True if it changed."""
    update = spec.get('u')
    new = apply_update(old, update, spec.get('q'), spec.get('arrayFilters'))
    if strict_equal(old, new):
        return False, new
    coll.replace(old, new)
    if isinstance(update, list):
        srv.log.record('update', db, coll.name, {'_id': new['_id']}, new,
                       update_description(old, new), _post_images(coll))
    elif is_operator_update(update):
        srv.log.record('update', db, coll.name, {'_id': new['_id']}, new,
                       operator_description(old, new, update),
                       _post_images(coll))
    else:
        srv.log.record('replace', db, coll.name, {'_id': new['_id']}, new)
    return True, new


def _upsert(srv, db, name, spec):
    coll = srv.store.coll(db, name, create=True)
    new = upsert_document(spec.get('q'), spec.get('u'),
                          spec.get('arrayFilters'))
    coll.insert(new)
    srv.log.record('insert', db, name, {'_id': new['_id']}, new)
    return new


def _one_update(srv, db, name, spec):
    """(matched, modified, upserted _id or None) of one update statement."""
    update = spec.get('u')
    multi = spec.get('multi', False)
    if multi and not (isinstance(update, list) or
                      is_operator_update(update)):
        raise failed_to_parse('multi update is not supported for '
                              'replacement-style update')
    coll = srv.store.coll(db, name)
    found = []
    if coll is not None:
        found = coll.find(spec.get('q') or {}, limit=0 if multi else 1)
    if not found:
        if spec.get('upsert'):
            new = _upsert(srv, db, name, spec)
            return 1, 0, new['_id']
        return 0, 0, None
    modified = 0
    for old in found:
        changed, _ = _update_one_doc(srv, db, coll, old, spec)
        modified += int(changed)
    return len(found), modified, None


def cmd_update(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'update')
    ordered = cmd.get('ordered', True)
    n = 0
    modified = 0
    upserted = []
    errors = []
    for i, spec in enumerate(cmd.get('updates') or []):
        try:
            matched, changed, new_id = _one_update(srv, db, name, spec)
        except CommandError as exc:
            errors.append(exc.write_error(i))
            if ordered:
                break
            continue
        n += matched
        modified += changed
        if new_id is not None:
            upserted.append({'index': i, '_id': new_id})
    reply = {'n': n, 'nModified': modified}
    if upserted:
        reply['upserted'] = upserted
    if errors:
        reply['writeErrors'] = errors
    return reply


def cmd_delete(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'delete')
    coll = srv.store.coll(db, name)
    n = 0
    errors = []
    for i, spec in enumerate(cmd.get('deletes') or []):
        if coll is None:
            break
        try:
            limit = spec.get('limit', 0)
            found = coll.find(spec.get('q') or {}, limit=1 if limit else 0)
        except CommandError as exc:
            errors.append(exc.write_error(i))
            if cmd.get('ordered', True):
                break
            continue
        for doc in found:
            coll.delete(doc)
            srv.log.record('delete', db, name, {'_id': doc['_id']})
            n += 1
    return _write_reply(n, errors)


def _fam_update(srv, db, name, cmd, old):
    coll = srv.store.coll(db, name)
    spec = {'q': cmd.get('query') or {}, 'u': cmd['update'],
            'arrayFilters': cmd.get('arrayFilters')}
    _, new = _update_one_doc(srv, db, coll, old, spec)
    value = new if cmd.get('new') else old
    return {'n': 1, 'updatedExisting': True}, value


def cmd_find_and_modify(srv, cmd, db, conn_id):
    name = _coll_name(cmd, next(iter(cmd)))
    if cmd.get('remove') and cmd.get('update') is not None:
        raise failed_to_parse('Cannot specify both an update and '
                              'remove=true')
    if not cmd.get('remove') and cmd.get('update') is None:
        raise failed_to_parse('Either an update or remove=true must be '
                              'specified')
    coll = srv.store.coll(db, name)
    found = []
    if coll is not None:
        found = coll.find(cmd.get('query') or {}, cmd.get('sort'), limit=1)
    old = found[0] if found else None
    value = None
    if cmd.get('remove'):
        last = {'n': 0}
        if old is not None:
            coll.delete(old)
            srv.log.record('delete', db, name, {'_id': old['_id']})
            last = {'n': 1}
            value = old
    elif old is not None:
        last, value = _fam_update(srv, db, name, cmd, old)
    elif cmd.get('upsert'):
        new = _upsert(srv, db, name, {'q': cmd.get('query') or {},
                                      'u': cmd['update'],
                                      'arrayFilters':
                                          cmd.get('arrayFilters')})
        last = {'n': 1, 'updatedExisting': False, 'upserted': new['_id']}
        value = new if cmd.get('new') else None
    else:
        last = {'n': 0, 'updatedExisting': False}
    if value is not None and cmd.get('fields'):
        value = project(value, cmd['fields'])
    return {'lastErrorObject': last, 'value': value}


# -- reads -----------------------------------------------------------------

def cmd_find(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'find')
    filt = cmd.get('filter') or {}
    limit = _int_opt(cmd, 'limit', 0)
    skip = _int_opt(cmd, 'skip', 0)
    if skip < 0:
        raise bad_value('skip value must be non-negative, but received: '
                        '%d' % skip)
    single = cmd.get('singleBatch', False) or limit < 0
    coll = srv.store.coll(db, name)
    docs = []
    if coll is not None:
        docs = coll.find(filt, cmd.get('sort'), skip, limit)
    batch = _batch_size(cmd, 101)
    if limit:
        batch = min(batch, abs(limit)) if batch else abs(limit)
    if batch == 0 and 'batchSize' in cmd:
        batch = 0
    elif batch == 0:
        batch = 101
    return srv.cursor_reply('%s.%s' % (db, name), docs, True, batch,
                            single, cmd.get('projection'))


def cmd_get_more(srv, cmd, db, conn_id):
    cid = cmd['getMore']
    cur = srv.cursors.get(cid)
    if cur is None:
        raise CommandError(43, 'CursorNotFound',
                           'cursor id %d not found' % cid)
    cur.touched = time.monotonic()
    if cur.stream is not None:
        return _stream_get_more(srv, cmd, cur)
    batch = _batch_size(cmd, 0) or (1 << 30)
    docs = cur.take(batch)
    out_id = cid
    if cur.exhausted:
        del srv.cursors[cid]
        out_id = Int64(0)
    return {'cursor': {'nextBatch': docs, 'id': out_id, 'ns': cur.ns}}


def _stream_get_more(srv, cmd, cur):
    """getMore on a change stream: waits (lock released) for events."""
    stream = cur.stream
    limit = _batch_size(cmd, 0) or (1 << 30)
    wait_ms = cmd.get('maxTimeMS', DEFAULT_AWAIT_MS)
    deadline = time.monotonic() + max(0, wait_ms) / 1000.0
    while True:
        docs, token = stream.next_batch(limit)
        if docs or stream.dead:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        srv.cond.wait(left)
        if srv.cursors.get(cur.id) is not cur:
            raise CommandError(237, 'CursorKilled',
                               'cursor id %d was killed' % cur.id)
    out_id = cur.id
    cur.touched = time.monotonic()
    if stream.dead:
        srv.cursors.pop(cur.id, None)
        out_id = Int64(0)
    return {'cursor': {'nextBatch': docs, 'postBatchResumeToken': token,
                       'id': out_id, 'ns': cur.ns}}


def _open_stream(srv, cmd, db, coll_name):
    pipeline = cmd.get('pipeline') or []
    spec = pipeline[0]['$changeStream'] or {}
    cluster = bool(spec.get('allChangesForCluster'))
    if cluster and (db != 'admin' or coll_name is not None):
        raise bad_value('$changeStream may only be run with '
                        "{allChangesForCluster: true} on the 'admin' "
                        'database with {aggregate: 1}')
    if db == 'admin' and not cluster:
        raise CommandError(73, 'InvalidNamespace',
                           "$changeStream may not be opened on the "
                           "internal admin database")
    stream = ChangeStream(srv.log, srv.store, db, coll_name, spec,
                          pipeline[1:], cluster)
    docs, token = stream.next_batch(_batch_size(cmd, 101))
    ns = '%s.%s' % (db, coll_name if coll_name else '$cmd.aggregate')
    cid = Int64(0)
    if not stream.dead:
        cid = srv.new_cursor_id()
        cur = Cursor(cid, ns, [])
        cur.stream = stream
        srv.cursors[cid] = cur
    return {'cursor': {'firstBatch': docs, 'postBatchResumeToken': token,
                       'id': cid, 'ns': ns}}


def _stage_name(stage):
    if not isinstance(stage, dict) or len(stage) != 1:
        raise CommandError(40323, 'Location40323',
                           'A pipeline stage specification object must '
                           'contain exactly one field.')
    return next(iter(stage))


def _run_pipeline(srv, db, docs, pipeline):
    """Documents out of an aggregation pipeline (docs are private copies)."""
    for stage in pipeline:
        name = _stage_name(stage)
        arg = stage[name]
        if name == '$match':
            docs = [d for d in docs if matches(arg, d)]
        elif name == '$sort':
            docs = sort_docs(docs, arg)
        elif name == '$limit':
            docs = docs[:int(arg)]
        elif name == '$skip':
            docs = docs[int(arg):]
        elif name in ('$out', '$merge', '$changeStream', '$redact'):
            raise bad_value('%s is not supported by the mongod stand-in'
                            % name)
        elif name not in mm_aggregate._PIPELINE_HANDLERS:
            raise CommandError(40324, 'Location40324',
                               "Unrecognized pipeline stage name: '%s'"
                               % name)
        else:
            try:
                docs = list(mm_aggregate.process_pipeline(
                    docs, _DbShim(srv, db), expand_stage(stage), None))
            except NotImplementedError as exc:
                raise bad_value('not supported by the mongod stand-in: %s'
                                % exc)
    return docs


def cmd_aggregate(srv, cmd, db, conn_id):
    target = cmd['aggregate']
    pipeline = cmd.get('pipeline')
    if not isinstance(pipeline, list):
        raise CommandError(14, 'TypeMismatch', "'pipeline' option must be "
                           'specified as an array')
    if 'cursor' not in cmd and not cmd.get('explain'):
        raise failed_to_parse("The 'cursor' option is required, except for "
                              "aggregate with the explain argument")
    coll_name = target if isinstance(target, str) else None
    if pipeline and isinstance(pipeline[0], dict) and \
            '$changeStream' in pipeline[0]:
        return _open_stream(srv, cmd, db, coll_name)
    if coll_name is None:
        raise CommandError(73, 'InvalidNamespace',
                           'the mongod stand-in supports {aggregate: 1} '
                           'only with $changeStream')
    coll = srv.store.coll(db, coll_name)
    source = []
    rest = pipeline
    if coll is not None:
        filt = {}
        if rest and _stage_name(rest[0]) == '$match':
            filt = rest[0]['$match']
            rest = rest[1:]
        source = [dcopy(d) for d in coll.find(filt)]
    docs = _run_pipeline(srv, db, source, rest)
    return srv.cursor_reply('%s.%s' % (db, coll_name), docs, True,
                            _batch_size(cmd, 101))


def cmd_count(srv, cmd, db, conn_id):
    coll = srv.store.coll(db, _coll_name(cmd, 'count'))
    if coll is None:
        return {'n': 0}
    query = cmd.get('query') or {}
    if not query and not cmd.get('skip') and not cmd.get('limit'):
        return {'n': len(coll.docs)}
    docs = coll.find(query, None, _int_opt(cmd, 'skip', 0),
                     _int_opt(cmd, 'limit', 0))
    return {'n': len(docs)}


def cmd_distinct(srv, cmd, db, conn_id):
    coll = srv.store.coll(db, _coll_name(cmd, 'distinct'))
    key = cmd.get('key')
    if not isinstance(key, str):
        raise CommandError(14, 'TypeMismatch', "BSON field 'key' is "
                           "missing or not a string")
    values = []
    seen = set()
    docs = coll.find(cmd.get('query') or {}) if coll is not None else []
    for doc in docs:
        for val in path_values(doc, key):
            items = val if isinstance(val, list) else [val]
            for item in items:
                hk = hkey(item)
                if hk not in seen:
                    seen.add(hk)
                    values.append(item)
    return {'values': values}


# -- collections, indexes, databases --------------------------------------

def cmd_create(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'create')
    if srv.store.coll(db, name) is not None:
        raise CommandError(48, 'NamespaceExists',
                           'Collection %s.%s already exists.' % (db, name))
    coll = srv.store.coll(db, name, create=True)
    coll.options = {k: v for k, v in cmd.items()
                    if k not in ('create', '$db', 'lsid', '$clusterTime',
                                 'writeConcern', '$readPreference',
                                 'txnNumber', 'apiVersion')}
    return {}


def cmd_coll_mod(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'collMod')
    coll = srv.store.coll(db, name)
    if coll is None:
        raise ns_not_found('ns does not exist: %s.%s' % (db, name))
    opt = cmd.get('changeStreamPreAndPostImages')
    if opt is not None:
        if not isinstance(opt, dict) or not isinstance(opt.get('enabled'),
                                                       bool):
            raise failed_to_parse("BSON field 'changeStreamPreAndPostImages"
                                  ".enabled' is missing but a required "
                                  'field')
        coll.options = dict(coll.options)
        coll.options['changeStreamPreAndPostImages'] = {
            'enabled': opt['enabled']}
    return {}


def cmd_drop(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'drop')
    coll = srv.store.drop_coll(db, name)
    if coll is None:
        raise ns_not_found()
    srv.log.record('drop', db, name)
    return {'nIndexesWas': len(coll.indexes), 'ns': coll.ns}


def cmd_drop_database(srv, cmd, db, conn_id):
    dbo = srv.store.db(db)
    if dbo is None:
        return {}
    for name in list(dbo.collections):
        srv.store.drop_coll(db, name)
        srv.log.record('drop', db, name)
    srv.log.record('dropDatabase', db, None)
    return {'dropped': db}


def _index_spec(raw):
    key = raw.get('key')
    name = raw.get('name')
    if not isinstance(key, dict) or not key:
        raise bad_value("Error in specification %s :: caused by :: The "
                        "'key' field is a required property of an index "
                        "specification" % (raw,))
    if not isinstance(name, str) or not name:
        raise bad_value("Error in specification %s :: caused by :: The "
                        "'name' field is a required property of an index "
                        "specification" % (raw,))
    spec = {'v': 2, 'key': key, 'name': name}
    for opt in INDEX_OPTIONS:
        if opt in raw:
            spec[opt] = raw[opt]
    return spec


def _same_options(a, b):
    """True when two index specs have the same options."""
    for opt in INDEX_OPTIONS:
        x, y = a.get(opt), b.get(opt)
        if opt in ('unique', 'sparse', 'hidden'):
            x, y = bool(x), bool(y)
        if x is None and y is None:
            continue
        if x is None or y is None or hkey(x) != hkey(y):
            return False
    return True


def cmd_create_indexes(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'createIndexes')
    created = srv.store.coll(db, name) is None
    coll = srv.store.coll(db, name, create=True)
    before = len(coll.indexes)
    specs = [_index_spec(raw) for raw in cmd.get('indexes') or []]
    for spec in specs:
        same = coll.indexes.get(spec['name'])
        if same is not None:
            if strict_equal(same.spec['key'], spec['key']) and \
                    _same_options(same.spec, spec):
                continue
            raise CommandError(
                86, 'IndexKeySpecsConflict',
                'An existing index has the same name as the requested '
                'index. Requested index: %s, existing index: %s' %
                (spec, same.spec))
        for other in coll.indexes.values():
            if strict_equal(other.spec['key'], spec['key']):
                raise CommandError(
                    85, 'IndexOptionsConflict',
                    'Index already exists with a different name: %s' %
                    other.name)
        coll.add_index(spec)
    reply = {'numIndexesBefore': before, 'numIndexesAfter':
             len(coll.indexes), 'createdCollectionAutomatically': created}
    if before == len(coll.indexes):
        reply['note'] = 'all indexes already exist'
    return reply


def cmd_drop_indexes(srv, cmd, db, conn_id):
    name = _coll_name(cmd, next(iter(cmd)))
    coll = srv.store.coll(db, name)
    if coll is None:
        raise CommandError(26, 'NamespaceNotFound',
                           'ns not found %s.%s' % (db, name))
    which = cmd.get('index')
    before = len(coll.indexes)
    names = []
    if which == '*':
        names = [n for n in coll.indexes if n != '_id_']
    elif isinstance(which, str):
        names = [which]
    elif isinstance(which, dict):
        names = [i.name for i in coll.indexes.values()
                 if strict_equal(i.spec['key'], which)]
    for index_name in names:
        if index_name not in coll.indexes or index_name == '_id_':
            raise CommandError(27, 'IndexNotFound',
                               'index not found with name [%s]' %
                               index_name)
        del coll.indexes[index_name]
    return {'nIndexesWas': before}


def cmd_list_indexes(srv, cmd, db, conn_id):
    name = _coll_name(cmd, 'listIndexes')
    coll = srv.store.coll(db, name)
    if coll is None:
        raise CommandError(26, 'NamespaceNotFound',
                           'ns does not exist: %s.%s' % (db, name))
    docs = [dict(i.spec) for i in coll.indexes.values()]
    return srv.cursor_reply('%s.$cmd.listIndexes.%s' % (db, name), docs,
                            True, _batch_size(cmd, 101))


def cmd_list_collections(srv, cmd, db, conn_id):
    dbo = srv.store.db(db)
    docs = []
    for name, coll in (dbo.collections.items() if dbo else []):
        info = {'name': name, 'type': 'collection', 'options':
                dict(coll.options),
                'info': {'readOnly': False,
                         'uuid': Binary(coll.uuid.bytes, 4)},
                'idIndex': {'v': 2, 'key': {'_id': 1}, 'name': '_id_'}}
        if matches(cmd.get('filter') or {}, info):
            if cmd.get('nameOnly'):
                info = {'name': name, 'type': 'collection'}
            docs.append(info)
    return srv.cursor_reply('%s.$cmd.listCollections' % db, docs, True,
                            _batch_size(cmd, 101))


def cmd_list_databases(srv, cmd, db, conn_id):
    out = []
    total = 0
    for name, dbo in srv.store.dbs.items():
        size = sum(len(c.docs) for c in dbo.collections.values()) * 256
        total += size
        entry = {'name': name, 'sizeOnDisk': float(size), 'empty': False}
        if matches(cmd.get('filter') or {}, entry):
            out.append({'name': name} if cmd.get('nameOnly') else entry)
    return {'databases': out, 'totalSize': float(total),
            'totalSizeMb': Int64(total // (1024 * 1024))}


def cmd_kill_cursors(srv, cmd, db, conn_id):
    killed = []
    missing = []
    for cid in cmd.get('cursors') or []:
        if srv.cursors.pop(cid, None) is not None:
            killed.append(cid)
        else:
            missing.append(cid)
    return {'cursorsKilled': killed, 'cursorsNotFound': missing,
            'cursorsAlive': [], 'cursorsUnknown': []}


COMMANDS = {
    'hello': cmd_hello,
    'isMaster': cmd_hello,
    'ismaster': cmd_hello,
    'ping': cmd_ping,
    'buildInfo': cmd_build_info,
    'buildinfo': cmd_build_info,
    'getParameter': cmd_get_parameter,
    'setParameter': cmd_set_parameter,
    'getCmdLineOpts': cmd_get_cmd_line_opts,
    'serverStatus': cmd_server_status,
    'replSetGetStatus': cmd_repl_set_get_status,
    'whatsmyuri': cmd_whatsmyuri,
    'endSessions': cmd_end_sessions,
    'killSessions': cmd_end_sessions,
    'commitTransaction': cmd_outside_transaction,
    'abortTransaction': cmd_outside_transaction,
    'refreshSessions': cmd_noop,
    'startSession': cmd_start_session,
    'configureFailPoint': cmd_configure_fail_point,
    'insert': cmd_insert,
    'update': cmd_update,
    'delete': cmd_delete,
    'findAndModify': cmd_find_and_modify,
    'findandmodify': cmd_find_and_modify,
    'find': cmd_find,
    'getMore': cmd_get_more,
    'aggregate': cmd_aggregate,
    'count': cmd_count,
    'distinct': cmd_distinct,
    'create': cmd_create,
    'collMod': cmd_coll_mod,
    'drop': cmd_drop,
    'dropDatabase': cmd_drop_database,
    'createIndexes': cmd_create_indexes,
    'dropIndexes': cmd_drop_indexes,
    'deleteIndexes': cmd_drop_indexes,
    'listIndexes': cmd_list_indexes,
    'listCollections': cmd_list_collections,
    'listDatabases': cmd_list_databases,
    'killCursors': cmd_kill_cursors,
}
