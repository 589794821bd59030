"""Change events and change-stream cursors for the mongod stand-in.

Every write appends one event to a global log, in one order, each with a
strictly increasing cluster time.  The log keeps the last --history events;
resuming from before them fails with ChangeStreamHistoryLost (286).

A resume token is {_data: "82" + 8 hex digits of the cluster time's
seconds + 8 of its increment + 2 of a kind (00 event, 01 invalidate)}:
tokens of one kind compare as their positions do.
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
from standin_store import dcopy, matches, strict_equal

KIND_EVENT = 0
KIND_INVALIDATE = 1
BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024
STREAM_STAGES = ('$match', '$project', '$addFields', '$set', '$unset',
                 '$replaceRoot', '$replaceWith', '$redact')
INTERNAL_DBS = ('admin', 'config', 'local')


class Event:
    """One write as the log remembers it."""

    __slots__ = ('ct', 'wall', 'op', 'db', 'coll', 'key', 'doc', 'upd')

    def __init__(self, ct, wall, op, db, coll, key, doc, upd):
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
        for name, value in zip(self.__slots__, state):
            setattr(self, name, value)


def make_token(pos, kind=KIND_EVENT):
    return {'_data': '82%08X%08X%02X' % (pos[0], pos[1], kind)}


def parse_token(token):
    """(position, kind) of a resume token; raises InvalidResumeToken."""
    data = token.get('_data') if isinstance(token, dict) else None
    if not isinstance(data, str) or len(data) != 20 or \
            not data.startswith('82'):
        raise CommandError(260, 'InvalidResumeToken',
                           'Failed to parse resume token: %r' % (token,))
    try:
        pos = (int(data[2:10], 16), int(data[10:18], 16))
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

    def record(self, op, db, coll, key=None, doc=None, upd=None):
        ct = self.tick()
        wall = datetime.datetime.utcnow()
        wall = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
        self.events.append(Event(ct, wall, op, db, coll, key, doc, upd))
        self._trim()
        return ct

    def _trim(self):
        while len(self.events) - self.start > self.history:
            self.lost_upto = self.events[self.start].ct
            self.events[self.start] = None
            self.start += 1
        if self.start > self.history and self.start > 1024:
            del self.events[:self.start]
            self.base += self.start
            self.start = 0

    def index_after(self, pos):
        return bisect.bisect_right(self.events, pos, lo=self.start,
                                   key=lambda e: e.ct)

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
            name = next(iter(stage)) if isinstance(stage, dict) else None
            if name not in STREAM_STAGES:
                raise CommandError(
                    2, 'BadValue', '%s is not permitted in a $changeStream '
                    'pipeline' % name)
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
            return self.log.last
        name = given[0]
        if name == 'startAtOperationTime':
            ts = spec[name]
            if not isinstance(ts, Timestamp):
                raise bad_value('startAtOperationTime must be a timestamp')
            if ts.inc > 0:
                pos = (ts.time, ts.inc - 1)
            else:
                pos = (ts.time - 1, 0xFFFFFFFF)
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
        return ev.doc

    def render(self, ev):
        """The change event document this stream shows for ev."""
        out = {'_id': make_token(ev.ct), 'operationType': ev.op,
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
        return out

    def _invalidate_doc(self, ev):
        return {'_id': make_token(ev.ct, KIND_INVALIDATE),
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
                res = list(mm_aggregate.process_pipeline([doc], None,
                                                         [stage], None))
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
                'the unmodified _id field are allowed.')
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
            self.pos = ev.ct
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
                self.invalidate_pos = ev.ct
                return out, make_token(ev.ct, KIND_INVALIDATE)
        self.next_seq = log.base + i
        if i >= len(events) and log.last > self.pos:
            self.pos = log.last
        return out, make_token(self.pos)

    def has_news(self):
        if self.dead:
            return True
        events = self.log.events
        return len(events) > self.log.start and events[-1].ct > self.pos


def int64(value):
    return Int64(value)
