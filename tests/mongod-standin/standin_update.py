"""Update operators for the mongod stand-in (test and demo equipment).

apply_update() never touches the document it is given: it works on a copy
and returns it, so stored documents stay immutable snapshots.
"""

import datetime
import time

from bson import Int64, ObjectId
from bson.timestamp import Timestamp
from mongomock import aggregate as mm_aggregate

from standin_errors import CommandError, bad_value, type_mismatch, \
    failed_to_parse
from standin_store import dcopy, hkey, matches, sort_value, sort_docs, \
    format_value, strict_equal

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num_op(a, b, fn):
    """Arithmetic with MongoDB's type promotion (int32, int64, double)."""
    if isinstance(a, float) or isinstance(b, float):
        return float(fn(float(a), float(b)))
    res = fn(int(a), int(b))
    if isinstance(a, Int64) or isinstance(b, Int64):
        return Int64(res)
    if res < INT32_MIN or res > INT32_MAX:
        return Int64(res)
    return res


def _doc_label(doc):
    return '{_id: %s}' % format_value(doc.get('_id'))


def _type_name(value):
    names = [(bool, 'bool'), (str, 'string'), (dict, 'object'),
             (list, 'array'), (float, 'double'), (Int64, 'long'),
             (int, 'int'), (ObjectId, 'objectId'),
             (datetime.datetime, 'date')]
    if value is None:
        return 'null'
    for kind, name in names:
        if isinstance(value, kind):
            return name
    return type(value).__name__


class _Ctx:
    """What an update needs besides the document: query, arrayFilters."""

    def __init__(self, filt, array_filters, is_upsert, root):
        self.filt = filt or {}
        self.array_filters = {}
        self.is_upsert = is_upsert
        self.root = root
        for af in array_filters or []:
            for key, cond in af.items():
                ident = key.split('.', 1)[0]
                self.array_filters.setdefault(ident, {})[key] = cond

    def positional_index(self, prefix, array):
        """Index of the first element the query matched ('$')."""
        subs = _filter_parts(self.filt, prefix)
        if not subs:
            raise bad_value('The positional operator did not find the '
                            'match needed from the query.')
        for idx, elem in enumerate(array):
            probe = {'__p': [elem]}
            if all(matches({'__p' + k[len(prefix):]: v}, probe)
                   for k, v in subs):
                return idx
        raise bad_value('The positional operator did not find the match '
                        'needed from the query.')

    def filtered_indexes(self, ident, array):
        conds = self.array_filters.get(ident)
        if conds is None:
            raise bad_value('No array filter found for identifier \'%s\' '
                            'in path' % ident)
        out = []
        for idx, elem in enumerate(array):
            probe = {'__e': elem}
            if all(matches({'__e' + k[len(ident):]: v}, probe)
                   for k, v in conds.items()):
                out.append(idx)
        return out


def _filter_parts(filt, prefix):
    out = []
    for key, cond in filt.items():
        if key == '$and':
            for sub in cond:
                out.extend(_filter_parts(sub, prefix))
        elif key == prefix or key.startswith(prefix + '.'):
            out.append((key, cond))
    return out


def _targets(cur, parts, i, ctx, create, path, out):
    """Collect (container, key, dotted path) for every place parts names."""
    part = parts[i]
    keys = []
    if part == '$' or part.startswith('$['):
        if not isinstance(cur, list):
            raise bad_value("The path '%s' must exist in the document in "
                            "order to apply array updates." % '.'.join(path))
        if part == '$':
            keys = [ctx.positional_index('.'.join(path), cur)]
        elif part == '$[]':
            keys = list(range(len(cur)))
        else:
            keys = ctx.filtered_indexes(part[2:-1], cur)
    elif isinstance(cur, list):
        if not part.isdigit():
            raise CommandError(28, 'PathNotViable',
                               "Cannot create field '%s' in element "
                               "{%s: %s}" % (part, path[-1] if path else '',
                                             format_value(cur)))
        keys = [int(part)]
    else:
        keys = [part]
    last = i == len(parts) - 1
    for key in keys:
        sub_path = path + [str(key)]
        if last:
            out.append((cur, key, '.'.join(sub_path)))
            continue
        child = _get(cur, key)
        if child is _NONE:
            if not create:
                continue
            child = {}
            _put(cur, key, child)
        elif not isinstance(child, (dict, list)):
            if not create:
                continue
            raise CommandError(28, 'PathNotViable',
                               "Cannot create field '%s' in element "
                               "{%s: %s}" % (parts[i + 1], key,
                                             format_value(child)))
        _targets(child, parts, i + 1, ctx, create, sub_path, out)


_NONE = object()


def _get(container, key):
    if isinstance(container, list):
        if key < len(container):
            return container[key]
        return _NONE
    return container.get(key, _NONE)


def _put(container, key, value):
    if isinstance(container, list):
        while len(container) <= key:
            container.append(None)
        container[key] = value
    else:
        container[key] = value


def _places(doc, field, ctx, create):
    if field == '_id' or field.startswith('_id.'):
        pass
    out = []
    _targets(doc, field.split('.'), 0, ctx, create, [], out)
    return out


def _op_set(doc, field, arg, ctx):
    for cont, key, _ in _places(doc, field, ctx, True):
        _put(cont, key, dcopy(arg))


def _op_unset(doc, field, arg, ctx):
    for cont, key, _ in _places(doc, field, ctx, False):
        if isinstance(cont, list):
            if key < len(cont):
                cont[key] = None
        else:
            cont.pop(key, None)


def _arith(name, fn, missing):
    def op(doc, field, arg, ctx):
        if not _is_number(arg):
            raise type_mismatch('Cannot %s with non-numeric argument: '
                                '{%s: %s}' % (
                                    'increment' if name == '$inc'
                                    else 'multiply',
                                    field, format_value(arg)))
        for cont, key, path in _places(doc, field, ctx, True):
            cur = _get(cont, key)
            if cur is _NONE:
                _put(cont, key, missing(arg))
                continue
            if not _is_number(cur):
                raise type_mismatch(
                    'Cannot apply %s to a value of non-numeric type. %s has '
                    "the field '%s' of non-numeric type %s" % (
                        name, _doc_label(ctx.root), path.rsplit('.', 1)[-1],
                        _type_name(cur)))
            _put(cont, key, _num_op(cur, arg, fn))
    return op


def _mul_missing(arg):
    return _num_op(0, arg, lambda a, b: a * b)


def _compare_op(want_less):
    def op(doc, field, arg, ctx):
        for cont, key, _ in _places(doc, field, ctx, True):
            cur = _get(cont, key)
            if cur is _NONE:
                _put(cont, key, dcopy(arg))
                continue
            less = sort_value(arg) < sort_value(cur)
            greater = sort_value(arg) > sort_value(cur)
            if (want_less and less) or (not want_less and greater):
                _put(cont, key, dcopy(arg))
    return op


def _current_date(doc, field, arg, ctx):
    now = datetime.datetime.utcnow()
    value = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if isinstance(arg, dict) and arg.get('$type') == 'timestamp':
        value = Timestamp(int(time.time()), 1)
    for cont, key, _ in _places(doc, field, ctx, True):
        _put(cont, key, value)


def _array_at(cont, key, field, ctx, create):
    cur = _get(cont, key)
    if cur is _NONE:
        if not create:
            return None
        cur = []
        _put(cont, key, cur)
    if not isinstance(cur, list):
        raise bad_value("The field '%s' must be an array but is of type %s "
                        "in document %s" % (field, _type_name(cur),
                                            _doc_label(ctx.root)))
    return cur


def _op_push(doc, field, arg, ctx):
    mods = {}
    if isinstance(arg, dict) and '$each' in arg:
        mods = arg
        values = arg['$each']
        if not isinstance(values, list):
            raise bad_value('The argument to $each in $push must be an '
                            'array but it was of type: %s' %
                            _type_name(values))
    else:
        values = [arg]
    for cont, key, _ in _places(doc, field, ctx, True):
        arr = _array_at(cont, key, field, ctx, True)
        pos = mods.get('$position')
        new = [dcopy(v) for v in values]
        if pos is None:
            arr.extend(new)
        else:
            pos = int(pos)
            if pos < 0:
                pos = max(0, len(arr) + pos)
            arr[pos:pos] = new
        if '$sort' in mods:
            spec = mods['$sort']
            if isinstance(spec, dict):
                arr[:] = sort_docs(arr, spec)
            else:
                arr.sort(key=sort_value, reverse=spec < 0)
        if '$slice' in mods:
            n = int(mods['$slice'])
            arr[:] = arr[:n] if n >= 0 else arr[n:] if n else []


def _op_add_to_set(doc, field, arg, ctx):
    if isinstance(arg, dict) and '$each' in arg:
        values = arg['$each']
    else:
        values = [arg]
    for cont, key, _ in _places(doc, field, ctx, True):
        arr = _array_at(cont, key, field, ctx, True)
        have = {hkey(v) for v in arr}
        for value in values:
            if hkey(value) not in have:
                arr.append(dcopy(value))
                have.add(hkey(value))


def _pull_matches(cond, elem):
    if isinstance(cond, dict):
        if any(k.startswith('$') for k in cond):
            return matches({'__e': cond}, {'__e': elem})
        if isinstance(elem, dict):
            return matches(cond, elem)
        return False
    return hkey(cond) == hkey(elem)


def _op_pull(doc, field, arg, ctx):
    for cont, key, _ in _places(doc, field, ctx, False):
        arr = _array_at(cont, key, field, ctx, False)
        if arr is not None:
            arr[:] = [e for e in arr if not _pull_matches(arg, e)]


def _op_pull_all(doc, field, arg, ctx):
    drop = {hkey(v) for v in arg}
    for cont, key, _ in _places(doc, field, ctx, False):
        arr = _array_at(cont, key, field, ctx, False)
        if arr is not None:
            arr[:] = [e for e in arr if hkey(e) not in drop]


def _op_pop(doc, field, arg, ctx):
    for cont, key, _ in _places(doc, field, ctx, False):
        arr = _array_at(cont, key, field, ctx, False)
        if arr:
            if arg is not None and arg < 0:
                arr.pop(0)
            else:
                arr.pop()


def _op_rename(doc, field, arg, ctx):
    srcs = _places(doc, field, ctx, False)
    for cont, key, _ in srcs:
        value = _get(cont, key)
        if value is _NONE:
            continue
        _op_unset(doc, field, None, ctx)
        _op_set(doc, arg, value, ctx)


def _op_set_on_insert(doc, field, arg, ctx):
    if ctx.is_upsert:
        _op_set(doc, field, arg, ctx)


_OPERATORS = {
    '$set': _op_set,
    '$unset': _op_unset,
    '$inc': _arith('$inc', lambda a, b: a + b, lambda arg: arg),
    '$mul': _arith('$mul', lambda a, b: a * b, _mul_missing),
    '$min': _compare_op(True),
    '$max': _compare_op(False),
    '$currentDate': _current_date,
    '$push': _op_push,
    '$addToSet': _op_add_to_set,
    '$pull': _op_pull,
    '$pullAll': _op_pull_all,
    '$pop': _op_pop,
    '$rename': _op_rename,
    '$setOnInsert': _op_set_on_insert,
}


def is_operator_update(update):
    return isinstance(update, dict) and update and \
        next(iter(update)).startswith('$')


def _check_conflicts(update):
    seen = []
    for op, fields in update.items():
        for field in fields:
            names = [field]
            if op == '$rename':
                names.append(fields[field])
            for name in names:
                for other in seen:
                    if name == other or name.startswith(other + '.') or \
                            other.startswith(name + '.'):
                        raise CommandError(
                            40, 'ConflictingUpdateOperators',
                            "Updating the path '%s' would create a conflict "
                            "at '%s'" % (name, other))
                seen.append(name)


def _apply_operators(doc, update, ctx):
    _check_conflicts(update)
    for op, fields in update.items():
        handler = _OPERATORS.get(op)
        if handler is None:
            raise failed_to_parse(
                'Unknown modifier: %s. Expected a valid update modifier or '
                'pipeline-style update specified as an array' % op)
        if not isinstance(fields, dict):
            raise failed_to_parse(
                'Modifiers operate on fields but we found type %s instead. '
                'For example: {$mod: {<field>: ...}} not {%s: %s}' % (
                    _type_name(fields), op, format_value(fields)))
        for field, arg in fields.items():
            handler(doc, field, arg, ctx)


def _apply_pipeline(doc, pipeline):
    try:
        out = list(mm_aggregate.process_pipeline([doc], None, pipeline,
                                                 None))
    except NotImplementedError as exc:
        raise CommandError(72, 'InvalidOptions', str(exc))
    if len(out) != 1:
        raise bad_value('pipeline update must produce one document')
    return out[0]


def apply_update(old, update, filt=None, array_filters=None,
                 is_upsert=False):
    """The document that results from applying update to old.

    Returns a new dict; old is left untouched.  Raises CommandError.
    """
    if isinstance(update, list):
        new = _apply_pipeline(dcopy(old), update)
    elif is_operator_update(update):
        new = dcopy(old)
        ctx = _Ctx(filt, array_filters, is_upsert, old)
        _apply_operators(new, update, ctx)
    else:
        for key in update:
            if key.startswith('$'):
                raise failed_to_parse(
                    "The dollar ($) prefixed field '%s' in '%s' is not "
                    "allowed in the context of an update's replacement "
                    "document." % (key, key))
        new = dcopy(update)
        if '_id' not in new and '_id' in old:
            new = dict([('_id', old['_id'])] + list(new.items()))
    if '_id' in old and not strict_equal(new.get('_id'), old['_id']):
        raise CommandError(
            66, 'ImmutableField',
            "Performing an update on the path '_id' would modify the "
            "immutable field '_id'")
    if '_id' not in new:
        new = dict([('_id', ObjectId())] + list(new.items()))
    elif next(iter(new)) != '_id':
        new = dict([('_id', new['_id'])] +
                   [(k, v) for k, v in new.items() if k != '_id'])
    return new


def _set_dotted(doc, field, value):
    parts = field.split('.')
    cur = doc
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = dcopy(value)


def upsert_base(filt):
    """The document an upsert starts from: the query's equality fields."""
    out = {}
    for key, cond in (filt or {}).items():
        if key == '$and':
            for sub in cond:
                for k, v in upsert_base(sub).items():
                    out[k] = v
            continue
        if key.startswith('$'):
            continue
        if isinstance(cond, dict) and cond and \
                next(iter(cond)).startswith('$'):
            if list(cond.keys()) == ['$eq']:
                _set_dotted(out, key, cond['$eq'])
            continue
        _set_dotted(out, key, cond)
    if '_id' in out:
        out = dict([('_id', out['_id'])] +
                   [(k, v) for k, v in out.items() if k != '_id'])
    return out


def upsert_document(filt, update, array_filters=None):
    """The new document an upsert inserts."""
    if isinstance(update, list) or is_operator_update(update):
        base = upsert_base(filt)
        return apply_update(base, update, filt, array_filters, True)
    new = dcopy(update)
    base_id = upsert_base(filt).get('_id')
    if '_id' not in new:
        new_id = base_id if base_id is not None else ObjectId()
        new = dict([('_id', new_id)] + list(new.items()))
    return apply_update(new, new, filt, None, True)
