"""Logical sessions, retryable writes and multi-document transactions for
the mongod stand-in (test and demo equipment).

A session remembers the outcome of its last retryable write (by
txnNumber), so a retry is answered without applying the write again.

A transaction reads a snapshot of every collection taken at its first
command, with its own writes laid over it; its writes stay in that
overlay until commit, which applies them all under the global lock and
records their change events with one cluster time.  A document written by
one transaction is locked against others until it ends: a second
transaction writing it, or a transaction writing a document changed since
its snapshot, fails with 112 WriteConflict.
"""

import time

from standin_errors import CommandError
from standin_store import WRITE_SEQ, hkey, matches, sort_docs

TXN_LIFETIME_SECONDS = 60
RETRYABLE_WRITES = ('insert', 'update', 'delete', 'findAndModify',
                    'findandmodify')
TXN_COMMANDS = ('find', 'getMore', 'insert', 'update', 'delete',
                'findAndModify', 'findandmodify', 'aggregate', 'distinct',
                'killCursors', 'commitTransaction', 'abortTransaction')
RETRYABLE_WRITE_CODES = {6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602,
                         13435, 13436}
TRANSIENT = 'TransientTransactionError'


class TxnAbort(Exception):
    """A failure that aborts the transaction and leaves the command."""

    def __init__(self, error):
        super().__init__(error.errmsg)
        self.error = error


def write_conflict():
    return TxnAbort(CommandError(
        112, 'WriteConflict', 'Caused by :: Write conflict during plan '
        'execution and yielding is disabled. :: Please retry your '
        'operation or multi-document transaction.', labels=[TRANSIENT]))


def no_such_transaction(number):
    return CommandError(251, 'NoSuchTransaction',
                        'Transaction with { txnNumber: %d } has been aborted.'
                        % number, labels=[TRANSIENT])


class Session:
    """What the server keeps per logical session id."""

    def __init__(self, lsid):
        self.lsid = lsid
        self.txn_number = -1
        self.reply = None       # stored reply of the retryable write
        self.reply_cmd = None
        self.txn = None         # Transaction of txn_number, if any
        self.used = time.monotonic()


class Transaction:
    """One multi-document transaction and its private overlay."""

    def __init__(self, server, session, number):
        self.session = session
        self.number = number
        self.state = 'inProgress'
        self.started = time.monotonic()
        self.start_seq = WRITE_SEQ[0]
        self.snap = {}          # (db, coll) -> {hkey: doc} at the start
        for db_name, dbo in server.store.dbs.items():
            for name, coll in dbo.collections.items():
                self.snap[(db_name, name)] = dict(coll.docs)
        self.writes = {}        # (db, coll) -> {hkey: doc or None}
        self.ops = []           # change events, in statement order

    def expired(self, lifetime):
        return time.monotonic() - self.started > lifetime


class TxnLog:
    """Collects a transaction's change events instead of logging them."""

    def __init__(self, txn):
        self.txn = txn

    def record(self, op, db, coll, key=None, doc=None, upd=None,
               post=False):
        self.txn.ops.append((op, db, coll, key, doc, upd, post))


class TxnColl:
    """A collection as a transaction sees it: snapshot plus own writes."""

    def __init__(self, server, txn, db_name, name):
        self.server = server
        self.txn = txn
        self.db_name = db_name
        self.name = name
        self.base = txn.snap.get((db_name, name), {})
        self.overlay = txn.writes.setdefault((db_name, name), {})
        real = server.store.coll(db_name, name)
        self.options = real.options if real is not None else {}

    @property
    def ns(self):
        return '%s.%s' % (self.db_name, self.name)

    def _real(self):
        return self.server.store.coll(self.db_name, self.name, create=True)

    def _items(self):
        for hk, doc in self.base.items():
            if hk in self.overlay:
                doc = self.overlay[hk]
            if doc is not None:
                yield hk, doc
        for hk, doc in self.overlay.items():
            if hk not in self.base and doc is not None:
                yield hk, doc

    @property
    def docs(self):
        return dict(self._items())

    def get_by_id(self, doc_id):
        hk = hkey(doc_id)
        if hk in self.overlay:
            return self.overlay[hk]
        return self.base.get(hk)

    def find(self, filt, sort=None, skip=0, limit=0):
        out = [d for _, d in self._items() if matches(filt, d)]
        if sort:
            out = sort_docs(out, sort)
        if skip:
            out = out[skip:]
        if limit:
            out = out[:abs(limit)]
        return out

    def _lock(self, hk):
        """Take the document for this transaction, or WriteConflict."""
        key = (self.db_name, self.name, hk)
        owner = self.server.txn_locks.get(key)
        if owner is not None and owner is not self.txn:
            raise write_conflict()
        real = self.server.store.coll(self.db_name, self.name)
        ver = real.ver.get(hk, 0) if real is not None else 0
        if ver > self.txn.start_seq:
            raise write_conflict()
        self.server.txn_locks[key] = self.txn

    def _check_unique(self, doc, hk):
        real = self.server.store.coll(self.db_name, self.name)
        if real is None:
            return
        for index in real.indexes.values():
            if not index.unique or index.name == '_id_':
                continue
            other = index.conflict(doc, hk)
            if other is not None and other not in self.overlay:
                if other in self.base:
                    raise real.dup_error(index, doc)
                raise write_conflict()
            if not index._applies(doc):
                continue
            key = index.unique_key(doc)
            for ohk, odoc in self.overlay.items():
                if ohk != hk and odoc is not None and \
                        index._applies(odoc) and \
                        index.unique_key(odoc) == key:
                    raise real.dup_error(index, doc)

    def insert(self, doc):
        hk = hkey(doc['_id'])
        if self.get_by_id(doc['_id']) is not None:
            raise self._real().dup_error(self._real().indexes['_id_'], doc)
        self._lock(hk)
        self._check_unique(doc, hk)
        self.overlay[hk] = doc

    def replace(self, old, new):
        hk = hkey(old['_id'])
        self._lock(hk)
        self._check_unique(new, hk)
        self.overlay[hk] = new

    def delete(self, doc):
        hk = hkey(doc['_id'])
        self._lock(hk)
        self.overlay[hk] = None


class TxnStore:
    """The store as a transaction sees it."""

    def __init__(self, server, txn):
        self.server = server
        self.txn = txn

    def coll(self, db_name, name, create=False):
        key = (db_name, name)
        exists = key in self.txn.snap or key in self.txn.writes
        if not exists and not create:
            return None
        return TxnColl(self.server, self.txn, db_name, name)


class TxnServer:
    """The server as a command inside a transaction sees it."""

    def __init__(self, server, txn):
        self._server = server
        self.store = TxnStore(server, txn)
        self.log = TxnLog(txn)

    def __getattr__(self, name):
        return getattr(self._server, name)


def release(server, txn, state):
    """End a transaction: drop its locks and its copies of the data.

    state is 'committed' or 'aborted'; only the state stays, for a retry.
    """
    txn.state = state
    for key in [k for k, v in server.txn_locks.items() if v is txn]:
        del server.txn_locks[key]
    server.active_txns.discard(txn)
    server.cond.notify_all()
    txn.writes = {}
    txn.ops = []
    txn.snap = {}


def commit(server, txn):
    """Apply a transaction's writes and log its events, all at once."""
    done = []
    try:
        for (db_name, name), overlay in txn.writes.items():
            if not overlay:
                continue
            coll = server.store.coll(db_name, name, create=True)
            for hk, doc in overlay.items():
                old = coll.docs.get(hk)
                if doc is None:
                    if old is not None:
                        coll.delete(old)
                        done.append((coll, old, None))
                elif old is None:
                    coll.insert(doc)
                    done.append((coll, None, doc))
                else:
                    coll.replace(old, doc)
                    done.append((coll, old, doc))
    except CommandError:
        for coll, old, new in reversed(done):
            if new is None:
                coll.insert(old)
            elif old is None:
                coll.delete(new)
            else:
                coll.replace(new, old)
        release(server, txn, 'aborted')
        raise write_conflict()
    server.log.record_transaction(
        txn.ops, ({'id': txn.session.lsid}, txn.number))
    release(server, txn, 'committed')
