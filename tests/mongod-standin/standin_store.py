"""In-memory collections for the mongod stand-in (test and demo equipment).

Documents are plain dicts as python-bson decodes them.  A stored document
is never mutated in place: an update stores a modified copy.  Cursors and
change events may therefore keep references to stored documents without
copying them.
"""

import datetime
import re
import uuid

import bson
from bson import Int64, ObjectId, Regex
from bson.timestamp import Timestamp
from mongomock import filtering

from standin_errors import CommandError

# Number of the last committed document write, over every collection: a
# transaction compares it with a document's own number to find writes
# made after its snapshot.
WRITE_SEQ = [0]


def dcopy(value):
    """Deep copy of a decoded BSON value (fast path for dict and list)."""
    if isinstance(value, dict):
        return {k: dcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dcopy(v) for v in value]
    return value


def hkey(value):
    """A hashable key under which BSON-equal values compare equal."""
    if isinstance(value, dict):
        return ('d', tuple((k, hkey(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ('l', tuple(hkey(v) for v in value))
    if isinstance(value, bool):
        return ('b', value)
    if isinstance(value, (Regex, re.Pattern)):
        return ('r', str(value))
    try:
        hash(value)
    except TypeError:
        return ('x', repr(value))
    return value


def strict_equal(a, b):
    """True when two values would encode to the same BSON."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()):
            return False
        return all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        if len(a) != len(b):
            return False
        return all(strict_equal(x, y) for x, y in zip(a, b))
    return a == b


# Canonical BSON type order used when sorting and comparing.
def _type_rank(value):
    if value is None:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, (int, float)):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    if isinstance(value, bytes):
        return 6
    if isinstance(value, ObjectId):
        return 7
    if isinstance(value, datetime.datetime):
        return 9
    if isinstance(value, Timestamp):
        return 10
    return 11


def sort_value(value):
    """Totally ordered key for one BSON value in MongoDB's type order."""
    rank = _type_rank(value)
    if rank == 1:
        return (1, 0)
    if rank == 4:
        return (4, tuple((k, sort_value(v)) for k, v in value.items()))
    if rank == 5:
        return (5, tuple(sort_value(v) for v in value))
    if rank == 10:
        return (10, (value.time, value.inc))
    if rank == 6:
        return (6, (len(value), bytes(value)))
    if rank == 11:
        return (11, repr(value))
    if isinstance(value, float) and value != value:
        return (2, float('-inf'))
    return (rank, value)


_MISSING = object()


def get_path(doc, path):
    """Value at a dotted path without traversing arrays, or _MISSING."""
    cur = doc
    for part in path.split('.'):
        if isinstance(cur, dict):
            if part not in cur:
                return _MISSING
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit():
            idx = int(part)
            if idx >= len(cur):
                return _MISSING
            cur = cur[idx]
        else:
            return _MISSING
    return cur


def _collect_path(doc, parts, out):
    """Every value reachable at a dotted path, traversing arrays."""
    if not parts:
        out.append(doc)
        return
    if isinstance(doc, dict):
        if parts[0] in doc:
            _collect_path(doc[parts[0]], parts[1:], out)
        return
    if isinstance(doc, list):
        if parts[0].isdigit() and int(parts[0]) < len(doc):
            _collect_path(doc[int(parts[0])], parts[1:], out)
        for elem in doc:
            if isinstance(elem, dict):
                _collect_path(elem, parts, out)


def path_values(doc, path):
    """Values found at a dotted path (arrays traversed, not expanded)."""
    out = []
    _collect_path(doc, path.split('.'), out)
    return out


def sort_key_for(doc, field, descending):
    """Sort key of one field: arrays sort by their least (or greatest)."""
    vals = path_values(doc, field)
    keys = []
    for val in vals:
        if isinstance(val, list):
            if not val:
                keys.append((0, 0))
            keys.extend(sort_value(x) for x in val)
        else:
            keys.append(sort_value(val))
    if not keys:
        return (1, 0)
    return max(keys) if descending else min(keys)


def sort_docs(docs, sort_spec):
    """Sort documents by a {field: 1|-1} spec (stable, MongoDB order)."""
    docs = list(docs)
    for field, direction in reversed(list(sort_spec.items())):
        if isinstance(direction, dict):
            continue
        if field == '$natural':
            if direction < 0:
                docs.reverse()
            continue
        desc = direction < 0
        docs.sort(key=lambda d: sort_key_for(d, field, desc), reverse=desc)
    return docs


_FAST_OPS = {
    '$eq': lambda a, b: a == b, '$ne': lambda a, b: a != b,
    '$gt': lambda a, b: a > b, '$gte': lambda a, b: a >= b,
    '$lt': lambda a, b: a < b, '$lte': lambda a, b: a <= b,
}
_NO_FAST = object()


def _bracket(value):
    """Comparison bracket of a scalar, or None if not a simple scalar."""
    if isinstance(value, bool):
        return 'b'
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (int, float)):
        return 'n'
    if isinstance(value, str):
        return 's'
    if isinstance(value, (ObjectId, datetime.datetime)):
        return type(value)
    return None


def _fast_cond(value, cond):
    """Result of one simple condition on a scalar, or _NO_FAST."""
    if isinstance(cond, dict):
        if not cond:
            return _NO_FAST
        for op, arg in cond.items():
            fn = _FAST_OPS.get(op)
            if fn is None or _bracket(arg) is None:
                return _NO_FAST
            if value is _MISSING or _bracket(value) != _bracket(arg):
                if op != '$ne':
                    return False
                continue
            if not fn(value, arg):
                return False
        return True
    if _bracket(cond) is None:
        return _NO_FAST
    if value is _MISSING or _bracket(value) != _bracket(cond):
        return False
    return value == cond


def _fast_match(filt, doc):
    """Match plain top-level comparisons on scalars without mongomock."""
    for key, cond in filt.items():
        if key[0] == '$' or '.' in key:
            return _NO_FAST
        value = doc.get(key, _MISSING)
        if isinstance(value, (list, dict)) or \
                (value is not _MISSING and _bracket(value) is None):
            return _NO_FAST
        res = _fast_cond(value, cond)
        if res is not True:
            return res
    return True


def matches(filt, doc):
    """True when doc satisfies a query filter (mongomock semantics)."""
    if not filt:
        return True
    res = _fast_match(filt, doc)
    if res is not _NO_FAST:
        return res
    try:
        return filtering.filter_applies(filt, doc)
    except NotImplementedError as exc:
        raise CommandError(2, 'BadValue', str(exc))
    except TypeError as exc:
        raise CommandError(2, 'BadValue', 'bad query: %s' % exc)


def format_value(value):
    """A value as MongoDB prints it in error messages."""
    if isinstance(value, str):
        return '"%s"' % value.replace('"', '\\"')
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if value is None:
        return 'null'
    if isinstance(value, ObjectId):
        return "ObjectId('%s')" % value
    if isinstance(value, datetime.datetime):
        return 'new Date(%d)' % (
            (value - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)
    if isinstance(value, dict):
        inner = ', '.join('%s: %s' % (k, format_value(v))
                          for k, v in value.items())
        return '{ %s }' % inner if inner else '{}'
    if isinstance(value, list):
        return '[ %s ]' % ', '.join(format_value(v) for v in value)
    return str(value)


_ARRAY = object()


def _index_path(doc, path):
    """Value at path for an index, _ARRAY if an array is on the way."""
    cur = doc
    for part in path.split('.'):
        if isinstance(cur, list):
            return _ARRAY
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    if isinstance(cur, list):
        return _ARRAY
    return cur


class Index:
    """One index: key pattern, options, and lookup maps kept current."""

    def __init__(self, spec):
        self.spec = spec
        self.name = spec['name']
        self.fields = list(spec['key'].keys())
        self.unique = bool(spec.get('unique')) or self.name == '_id_'
        self.sparse = bool(spec.get('sparse'))
        self.partial = spec.get('partialFilterExpression')
        self.first = self.fields[0]
        self.by_value = {}      # hkey(first field value) -> set of ids
        self.multi = set()      # ids whose first field is an array
        self.ukeys = {}         # hkey(full key) -> id, unique only

    def _applies(self, doc):
        if self.partial is not None and not matches(self.partial, doc):
            return False
        if self.sparse:
            return any(get_path(doc, f) is not _MISSING for f in self.fields)
        return True

    def key_value(self, doc):
        """Ordered key {field: value} of doc (missing is null)."""
        out = {}
        for field in self.fields:
            val = get_path(doc, field)
            out[field] = None if val is _MISSING else val
        return out

    def unique_key(self, doc):
        """Hashable unique-index key of doc."""
        if len(self.fields) == 1:
            val = get_path(doc, self.first)
            return hkey(None if val is _MISSING else val)
        return hkey(self.key_value(doc))

    def conflict(self, doc, doc_id):
        """The id of another document with the same unique key, or None."""
        if not self.unique or not self._applies(doc):
            return None
        other = self.ukeys.get(self.unique_key(doc))
        if other is None or other == doc_id:
            return None
        return other

    def add(self, doc, doc_id):
        if not self._applies(doc):
            return
        val = _index_path(doc, self.first)
        if val is _ARRAY:
            self.multi.add(doc_id)
        else:
            key = hkey(None if val is _MISSING else val)
            self.by_value.setdefault(key, set()).add(doc_id)
        if self.unique:
            self.ukeys[self.unique_key(doc)] = doc_id

    def remove(self, doc, doc_id):
        if not self._applies(doc):
            return
        val = _index_path(doc, self.first)
        if val is _ARRAY:
            self.multi.discard(doc_id)
        else:
            key = hkey(None if val is _MISSING else val)
            ids = self.by_value.get(key)
            if ids is not None:
                ids.discard(doc_id)
                if not ids:
                    del self.by_value[key]
        if self.unique:
            ukey = self.unique_key(doc)
            if self.ukeys.get(ukey) == doc_id:
                del self.ukeys[ukey]

    def candidates(self, values):
        """Ids that may equal any of values on the first field."""
        out = set(self.multi)
        for val in values:
            out |= self.by_value.get(hkey(val), set())
        return out


_EQ_TYPES = (str, int, float, ObjectId, datetime.datetime, type(None))


def _eq_values(cond):
    """Scalar values an equality-like condition may equal, or None."""
    if isinstance(cond, dict):
        if len(cond) != 1:
            return None
        op, arg = next(iter(cond.items()))
        if op == '$eq' and isinstance(arg, _EQ_TYPES):
            return [arg]
        if op == '$in' and isinstance(arg, list) and \
                all(isinstance(a, _EQ_TYPES) for a in arg):
            return list(arg)
        return None
    if isinstance(cond, _EQ_TYPES):
        return [cond]
    return None


class Collection:
    """Documents of one collection, indexed by _id, in insertion order."""

    def __init__(self, db_name, name, options=None):
        self.db_name = db_name
        self.name = name
        self.options = options or {}
        self.uuid = uuid.uuid4()
        self.docs = {}          # hkey(_id) -> document, insertion order
        self.seq = {}           # hkey(_id) -> insertion number
        self.next_seq = 0
        self.ver = {}           # hkey(_id) -> WRITE_SEQ of its last write
        self.indexes = {}
        self.add_index({'v': 2, 'key': {'_id': 1}, 'name': '_id_'})

    @property
    def ns(self):
        return '%s.%s' % (self.db_name, self.name)

    def add_index(self, spec):
        index = Index(spec)
        if index.name == '_id_':
            self.indexes[index.name] = index
            return index
        for hk, doc in self.docs.items():
            other = index.conflict(doc, hk)
            if other is not None:
                raise self.dup_error(index, doc)
            index.add(doc, hk)
        self.indexes[index.name] = index
        return index

    def dup_error(self, index, doc):
        key = index.key_value(doc)
        shown = ', '.join('%s: %s' % (k, format_value(v))
                          for k, v in key.items())
        msg = ('E11000 duplicate key error collection: %s index: %s '
               'dup key: { %s }' % (self.ns, index.name, shown))
        return CommandError(11000, 'DuplicateKey', msg, extra={
            'keyPattern': dict(index.spec['key']), 'keyValue': key})

    def check_unique(self, doc, exclude=None):
        """Raise E11000 if doc collides on a unique index."""
        own = hkey(doc['_id'])
        for index in self.indexes.values():
            if not index.unique or index.name == '_id_':
                continue
            other = index.conflict(doc, own)
            if other is not None and other != exclude:
                raise self.dup_error(index, doc)

    def insert(self, doc):
        """Store a new document (its _id already set)."""
        hk = hkey(doc['_id'])
        if hk in self.docs:
            raise self.dup_error(self.indexes['_id_'], doc)
        self.check_unique(doc)
        self.docs[hk] = doc
        self.seq[hk] = self.next_seq
        self.next_seq += 1
        WRITE_SEQ[0] += 1
        self.ver[hk] = WRITE_SEQ[0]
        for index in self.indexes.values():
            if index.name != '_id_':
                index.add(doc, hk)

    def replace(self, old, new):
        """Swap a stored document for its updated copy (same _id)."""
        hk = hkey(old['_id'])
        self.check_unique(new)
        for index in self.indexes.values():
            if index.name != '_id_':
                index.remove(old, hk)
                index.add(new, hk)
        self.docs[hk] = new
        WRITE_SEQ[0] += 1
        self.ver[hk] = WRITE_SEQ[0]

    def delete(self, doc):
        hk = hkey(doc['_id'])
        for index in self.indexes.values():
            if index.name != '_id_':
                index.remove(doc, hk)
        del self.docs[hk]
        del self.seq[hk]
        WRITE_SEQ[0] += 1
        self.ver[hk] = WRITE_SEQ[0]

    def get_by_id(self, doc_id):
        return self.docs.get(hkey(doc_id))

    def _candidates(self, filt):
        """Documents that may match filt, via _id or an index if possible."""
        if not filt:
            return list(self.docs.values())
        best = None
        for field, cond in filt.items():
            if field.startswith('$'):
                continue
            values = _eq_values(cond)
            if values is None:
                continue
            if field == '_id':
                keys = dict.fromkeys(hkey(v) for v in values)
                found = [self.docs.get(k) for k in keys]
                return [d for d in found if d is not None]
            for index in self.indexes.values():
                if index.first == field and index.partial is None \
                        and not index.sparse:
                    ids = index.candidates(values)
                    if best is None or len(ids) < len(best):
                        best = ids
        if best is None:
            return list(self.docs.values())
        ids = sorted(best, key=self.seq.__getitem__)
        return [self.docs[i] for i in ids]

    def find(self, filt, sort=None, skip=0, limit=0):
        """Matching documents (references, not copies)."""
        out = []
        want = None
        if not sort and limit:
            want = skip + abs(limit)
        for doc in self._candidates(filt):
            if matches(filt, doc):
                out.append(doc)
                if want is not None and len(out) >= want:
                    break
        if sort:
            out = sort_docs(out, sort)
        if skip:
            out = out[skip:]
        if limit:
            out = out[:abs(limit)]
        return out


class Database:
    """A named set of collections."""

    def __init__(self, name):
        self.name = name
        self.collections = {}


class Store:
    """All databases held by the stand-in."""

    def __init__(self):
        self.dbs = {}

    def db(self, name, create=False):
        db = self.dbs.get(name)
        if db is None and create:
            db = Database(name)
            self.dbs[name] = db
        return db

    def coll(self, db_name, name, create=False):
        db = self.db(db_name, create)
        if db is None:
            return None
        coll = db.collections.get(name)
        if coll is None and create:
            coll = Collection(db_name, name)
            db.collections[name] = coll
        return coll

    def drop_coll(self, db_name, name):
        db = self.dbs.get(db_name)
        if db is None or name not in db.collections:
            return None
        coll = db.collections.pop(name)
        if not db.collections:
            del self.dbs[db_name]
        return coll

    def snapshot(self):
        """Picklable state of every database."""
        out = {}
        for db_name, db in self.dbs.items():
            colls = {}
            for name, coll in db.collections.items():
                colls[name] = {
                    'options': coll.options,
                    'uuid': coll.uuid,
                    'docs': list(coll.docs.values()),
                    'indexes': [i.spec for i in coll.indexes.values()],
                }
            out[db_name] = colls
        return out

    def restore(self, snap):
        for db_name, colls in snap.items():
            for name, state in colls.items():
                coll = self.coll(db_name, name, create=True)
                coll.options = state['options']
                coll.uuid = state['uuid']
                for spec in state['indexes']:
                    if spec['name'] != '_id_':
                        coll.add_index(spec)
                for doc in state['docs']:
                    coll.insert(doc)


def encoded_size(doc):
    return len(bson.encode(doc))


def int64(value):
    return Int64(value)
