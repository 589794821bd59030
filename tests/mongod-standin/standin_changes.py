"""Change events and change-stream cursors for the mongod stand-in.

Every write appends one event to a global log, in one order, each with a
strictly increasing cluster time.  The log keeps the last --history events;
resuming from before them fails with ChangeStreamHistoryLost (286).

The events of one committed transaction share its cluster time; an
event's position is (seconds, increment, index in its transaction).

A resume token is {_data: "82" + 8 hex digits of the cluster time's
seconds + 8 of its increment + 2 of a kind (00 event, 01 invalidate) +
8 of the index in the transaction}: tokens of one kind compare as their
positions do.  Tokens without the last 8 digits (index 0) are accepted.
"""

import bisect
import datetime
import time

import bson
from bson import Int64
from bson.raw_bson import RawBSONDocument
from bson.timestamp import Timestamp
from mongomock import aggregate as mm_aggregate

from standin_errors import CommandError, bad_value
from standin_store import dcopy, get_path, matches, strict_equal, _MISSING

KIND_EVENT = 0
KIND_INVALIDATE = 1
BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024
STREAM_STAGES = ('$match', '$project', '$addFields', '$set', '$unset',
                 '$replaceRoot', '$replaceWith')
LAST_INDEX = 0xFFFFFFFF
INTERNAL_DBS = ('admin', 'config', 'local')


class Event:
    """One write as the log remembers it."""

    __slots__ = ('ct', 'wall', 'op', 'db', 'coll', 'key', 'doc', 'upd',
                 'pos', 'txn', 'post')

    def __init__(self, ct, wall, op, db, coll, key, doc, upd, index=0,
                 txn=None, post=False):
        self.pos = (ct[0], ct[1], index)
        self.txn = txn          # (lsid, txnNumber) of its transaction
        self.post = post        # a post-image was stored (updates)
        self.ct = ct
        self.wall = wall
        self.op = op
        self.db = db
        self.coll = coll
        self.key = key
        self.doc = doc
        self.upd = upd

    def __getstate__(self):
        return [getattr(self, s) for s in self.__slots__]

    def __setstate__(self, state):
        self.pos = self.txn = None
        self.post = False
        for name, value in zip(self.__slots__, state):
            setattr(self, name, value)
        if self.pos is None:
            self.pos = (self.ct[0], self.ct[1], 0)


def make_token(pos, kind=KIND_EVENT):
    return {'_data': '82%08X%08X%02X%08X' % (pos[0], pos[1], kind, pos[2])}


def parse_token(token):
    """(position, kind) of a resume token; raises InvalidResumeToken."""
    data = token.get('_data') if isinstance(token, dict) else None
    if not isinstance(data, str) or len(data) not in (20, 28) or \
            not data.startswith('82'):
        raise CommandError(260, 'InvalidResumeToken',
                           'Failed to parse resume token: %r' % (token,))
    try:
        pos = (int(data[2:10], 16), int(data[10:18], 16),
               int(data[20:28] or '0', 16))
        kind = int(data[18:20], 16)
    except ValueError:
        raise CommandError(260, 'InvalidResumeToken',
                           'Failed to parse resume token: %r' % (token,))
    return pos, kind


def _diff(old, new, prefix, upd, rem, trunc):
    """updateDescription entries turning old into new (dotted paths)."""
    for key in old:
        if key not in new:
            rem.append(prefix + key)
    for key, val in new.items():
        if key not in old:
            upd[prefix + key] = val
            continue
        prev = old[key]
        if strict_equal(prev, val):
            continue
        path = prefix + key
        if isinstance(prev, dict) and isinstance(val, dict):
            _diff(prev, val, path + '.', upd, rem, trunc)
        elif isinstance(prev, list) and isinstance(val, list):
            _diff_array(prev, val, path, upd, trunc)
        else:
            upd[path] = val


def _diff_array(prev, val, path, upd, trunc):
    changed = [j for j in range(len(val))
               if j >= len(prev) or not strict_equal(prev[j], val[j])]
    if len(changed) * 2 > len(val) and len(changed) > 1:
        upd[path] = val
        return
    if len(val) < len(prev):
        trunc.append({'field': path, 'newSize': len(val)})
    for j in changed:
        upd['%s.%d' % (path, j)] = val[j]


def update_description(old, new):
    upd, rem, trunc = {}, [], []
    _diff(old, new, '', upd, rem, trunc)
    return {'updatedFields': upd, 'removedFields': rem,
            'truncatedArrays': trunc}


def _new_prefix(old, path):
    """The shortest prefix of path that old lacks, or path itself."""
    parts = path.split('.')
    for i in range(1, len(parts)):
        if get_path(old, '.'.join(parts[:i])) is _MISSING:
            return '.'.join(parts[:i])
    return path


def _note_set(old, new, path, upd):
    before = get_path(old, path)
    after = get_path(new, path)
    if after is _MISSING:
        return
    if before is not _MISSING and strict_equal(before, after):
        return
    prefix = _new_prefix(old, path)
    upd[prefix] = get_path(new, prefix)


def _note_unset(old, new, path, upd, rem):
    if get_path(new, path) is not _MISSING:
        _note_set(old, new, path, upd)
    elif get_path(old, path) is not _MISSING:
        rem.append(path)


def _note_append(old, new, path, upd):
    before = get_path(old, path)
    after = get_path(new, path)
    if not isinstance(before, list) or not isinstance(after, list) or \
            len(after) < len(before) or \
            not all(strict_equal(a, b) for a, b in zip(before, after)):
        _note_set(old, new, path, upd)
        return
    for j in range(len(before), len(after)):
        upd['%s.%d' % (path, j)] = after[j]


def operator_description(old, new, update):
    """updateDescription of an operator update, as MongoDB reports it.

    A field an operator sets is reported whole, at the path it names (or
    the first missing part of that path); $push and $addToSet report the
    appended elements; $pull, $pullAll and $pop the whole array.
    Positional paths fall back to a diff of the two documents.
    """
    for fields in update.values():
        if isinstance(fields, dict) and any('$' in f for f in fields):
            return update_description(old, new)
    upd, rem = {}, []
    for op, fields in update.items():
        for path in fields:
            if op == '$setOnInsert':
                continue
            if op == '$unset':
                _note_unset(old, new, path, upd, rem)
            elif op == '$rename':
                _note_unset(old, new, path, upd, rem)
                _note_set(old, new, fields[path], upd)
            elif op in ('$push', '$addToSet'):
                _note_append(old, new, path, upd)
            else:
                _note_set(old, new, path, upd)
    return {'updatedFields': upd, 'removedFields': rem,
            'truncatedArrays': []}


def expand_stage(stage):
    """Stages the stand-in runs through mongomock for one given stage."""
    name, arg = next(iter(stage.items()))
    if name == '$unset':
        fields = [arg] if isinstance(arg, str) else arg
        if not isinstance(fields, list) or not fields or \
                not all(isinstance(f, str) for f in fields):
            raise CommandError(31002, 'Location31002',
                               '$unset specification must be a string or '
                               'an array of strings')
        return [{'$project': {f: 0 for f in fields}}]
    if name == '$replaceWith':
        return [{'$replaceRoot': {'newRoot': arg}}]
    if name == '$sortByCount':
        return [{'$group': {'_id': arg, 'count': {'$sum': 1}}},
                {'$sort': {'count': -1}}]
    return [stage]


class ChangeLog:
    """The global, ordered, bounded log of change events."""

    def __init__(self, history):
        self.history = max(1, history)
        self.events = []
        self.start = 0
        self.base = 0           # absolute number of events[0]
        self.lost_upto = None
        now = int(time.time())
        self.last = (now, 0)

    def tick(self):
        """Next cluster time: strictly after every earlier one."""
        now = int(time.time())
        if now > self.last[0]:
            self.last = (now, 1)
        else:
            self.last = (self.last[0], self.last[1] + 1)
        return self.last

    def cluster_time(self):
        return Timestamp(self.last[0], self.last[1])

    def last_pos(self):
        """Position after every event so far."""
        return (self.last[0], self.last[1], LAST_INDEX)

    def record(self, op, db, coll, key=None, doc=None, upd=None,
               post=False):
        ct = self.tick()
        wall = datetime.datetime.utcnow()
        wall = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
        self.events.append(Event(ct, wall, op, db, coll, key, doc, upd,
                                 post=post))
        self._trim()
        return ct

    def record_transaction(self, ops, txn):
        """The events of a committed transaction: one cluster time."""
        if not ops:
            return None
        ct = self.tick()
        wall = datetime.datetime.utcnow()
        wall = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
        for index, (op, db, coll, key, doc, upd, post) in enumerate(ops):
            self.events.append(Event(ct, wall, op, db, coll, key, doc, upd,
                                     index, txn, post))
        self._trim()
        return ct

    def _trim(self):
        while len(self.events) - self.start > self.history:
            self.lost_upto = self.events[self.start].pos
            self.events[self.start] = None
            self.start += 1
        if self.start > self.history and self.start > 1024:
            del self.events[:self.start]
            self.base += self.start
            self.start = 0

    def index_after(self, pos):
        return bisect.bisect_right(self.events, pos, lo=self.start,
                                   key=lambda e: e.pos)

    def check_position(self, pos):
        """Raise ChangeStreamHistoryLost if events after pos are gone."""
        if self.lost_upto is not None and pos < self.lost_upto:
            raise CommandError(
                286, 'ChangeStreamHistoryLost',
                'Resume of change stream was not possible, as the resume '
                'point may no longer be in the oplog.')

    def snapshot(self):
        return {'events': self.events[self.start:],
                'lost_upto': self.lost_upto, 'last': self.last}

    def restore(self, snap):
        self.events = list(snap['events'])
        self.start = 0
        self.base = 0
        self.lost_upto = snap['lost_upto']
        if self.lost_upto is not None and len(self.lost_upto) == 2:
            self.lost_upto = tuple(self.lost_upto) + (0,)
        self.last = max(tuple(snap['last']), self.last)
        self._trim()


class ChangeStream:
    """State of one change-stream cursor."""

    def __init__(self, log, store, db, coll, spec, pipeline, cluster):
        self.log = log
        self.store = store
        self.db = db
        self.coll = coll            # None for a database or cluster stream
        self.cluster = cluster
        self.dead = False
        self.invalidate_pos = None
        self.next_seq = None      # absolute number of the next event
        self.full_document = spec.get('fullDocument', 'default')
        if self.full_document not in ('default', 'updateLookup',
                                      'whenAvailable', 'required'):
            raise bad_value("'%s' is not a valid fullDocument mode" %
                            self.full_document)
        self.stages = []
        for stage in pipeline:
            name = next(iter(stage)) if isinstance(stage, dict) and \
                len(stage) == 1 else None
            if name is None:
                raise CommandError(40323, 'Location40323',
                                   'A pipeline stage specification object '
                                   'must contain exactly one field.')
            if name not in mm_aggregate._PIPELINE_HANDLERS:
                raise CommandError(40324, 'Location40324',
                                   "Unrecognized pipeline stage name: '%s'"
                                   % name)
            if name not in STREAM_STAGES:
                raise CommandError(
                    20, 'IllegalOperation', '%s is not permitted in a '
                    '$changeStream pipeline' % name)
            self.stages.append(stage)
        self.pos = self._start_position(spec)

    def _start_position(self, spec):
        given = [k for k in ('resumeAfter', 'startAfter',
                             'startAtOperationTime') if k in spec]
        if len(given) > 1:
            raise CommandError(40674, 'Location40674',
                               'Only one type of resume option is allowed, '
                               'but multiple were found.')
        if not given:
            return self.log.last_pos()
        name = given[0]
        if name == 'startAtOperationTime':
            ts = spec[name]
            if not isinstance(ts, Timestamp):
                raise bad_value('startAtOperationTime must be a timestamp')
            if ts.inc > 0:
                pos = (ts.time, ts.inc - 1, LAST_INDEX)
            else:
                pos = (ts.time - 1, 0xFFFFFFFF, LAST_INDEX)
        else:
            pos, kind = parse_token(spec[name])
            if kind == KIND_INVALIDATE and name == 'resumeAfter':
                raise CommandError(
                    260, 'InvalidResumeToken',
                    "Attempting to resume a change stream using "
                    "'resumeAfter' is not allowed from an invalidate "
                    "notification.")
        self.log.check_position(pos)
        return pos

    def _visible(self, ev):
        if self.cluster:
            return ev.db not in INTERNAL_DBS
        if ev.db != self.db:
            return False
        if self.coll is None:
            return ev.coll is None or not ev.coll.startswith('system.')
        return ev.coll == self.coll

    def _invalidates(self, ev):
        if self.cluster:
            return False
        if self.coll is None:
            return ev.op == 'dropDatabase'
        return ev.op == 'drop'

    def _full_document(self, ev):
        if ev.op in ('insert', 'replace'):
            return ev.doc
        if self.full_document == 'updateLookup':
            coll = self.store.coll(ev.db, ev.coll)
            if coll is None:
                return None
            return coll.get_by_id(ev.key['_id'])
        if ev.post:
            return ev.doc
        if self.full_document == 'required':
            raise CommandError(
                47, 'NoMatchingDocument',
                'Change stream was configured to require a post-image for '
                'all update, delete and replace events, but the post-image '
                'was not found for event: %s' % make_token(ev.pos))
        return None

    def render(self, ev):
        """The change event document this stream shows for ev."""
        out = {'_id': make_token(ev.pos), 'operationType': ev.op,
               'clusterTime': Timestamp(*ev.ct), 'wallTime': ev.wall}
        ns = {'db': ev.db}
        if ev.coll is not None:
            ns['coll'] = ev.coll
        if ev.op in ('insert', 'replace'):
            out['fullDocument'] = ev.doc
        out['ns'] = ns
        if ev.key is not None:
            out['documentKey'] = ev.key
        if ev.op == 'update':
            out['updateDescription'] = ev.upd
            if self.full_document != 'default':
                out['fullDocument'] = self._full_document(ev)
        if ev.txn is not None:
            out['lsid'] = ev.txn[0]
            out['txnNumber'] = ev.txn[1]
        return out

    def _invalidate_doc(self, ev):
        return {'_id': make_token(ev.pos, KIND_INVALIDATE),
                'operationType': 'invalidate',
                'clusterTime': Timestamp(*ev.ct), 'wallTime': ev.wall}

    def _apply_stages(self, doc):
        copied = False
        for stage in self.stages:
            name, arg = next(iter(stage.items()))
            if name == '$match':
                if not matches(arg, doc):
                    return None
                continue
            if not copied:
                doc = dcopy(doc)
                copied = True
            try:
                res = list(mm_aggregate.process_pipeline(
                    [doc], None, expand_stage(stage), None))
            except NotImplementedError as exc:
                raise bad_value(str(exc))
            if not res:
                return None
            doc = res[0]
        return doc

    def _transform(self, doc):
        token = doc['_id']
        if not self.stages:
            return doc
        out = self._apply_stages(doc)
        if out is None:
            return None
        if not strict_equal(out.get('_id'), token):
            raise CommandError(
                280, 'ChangeStreamFatalError',
                'Encountered an event whose _id field, which contains the '
                'resume token, was modified by the pipeline. Modifying the '
                '_id field of an event makes it impossible to resume the '
                'stream from that point. Only transformations that retain '
                'the unmodified _id field are allowed.',
                labels=['NonResumableChangeStreamError'])
        return out

    def next_batch(self, limit):
        """Encoded events after the stream's position, at most limit.

        Returns (list of RawBSONDocument, postBatchResumeToken).
        Side effects: advances the position; may mark the stream dead.
        """
        log = self.log
        if self.dead:
            return [], make_token(self.invalidate_pos, KIND_INVALIDATE)
        log.check_position(self.pos)
        out = []
        size = 0
        events = log.events
        i = -1
        if self.next_seq is not None:
            i = self.next_seq - log.base
        if i < log.start or i > len(events):
            i = log.index_after(self.pos)
        while i < len(events) and len(out) < limit and size < BATCH_BYTES:
            ev = events[i]
            i += 1
            self.pos = ev.pos
            if not self._visible(ev):
                continue
            doc = self._transform(self.render(ev))
            if doc is not None:
                raw = RawBSONDocument(bson.encode(doc))
                out.append(raw)
                size += len(raw.raw)
            if self._invalidates(ev):
                out.append(RawBSONDocument(bson.encode(
                    self._invalidate_doc(ev))))
                self.dead = True
                self.invalidate_pos = ev.pos
                return out, make_token(ev.pos, KIND_INVALIDATE)
        self.next_seq = log.base + i
        if i >= len(events) and log.last_pos() > self.pos:
            self.pos = log.last_pos()
        return out, make_token(self.pos)

    def has_news(self):
        if self.dead:
            return True
        events = self.log.events
        return len(events) > self.log.start and events[-1].pos > self.pos


def int64(value):
    return Int64(value)
