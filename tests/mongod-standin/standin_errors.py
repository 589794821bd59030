"""Errors as MongoDB reports them, for the mongod stand-in."""


class CommandError(Exception):
    """A command failure: becomes {ok: 0, errmsg, code, codeName}."""

    def __init__(self, code, code_name, errmsg, labels=None, extra=None):
        super().__init__(errmsg)
        self.code = code
        self.code_name = code_name
        self.errmsg = errmsg
        self.labels = labels or []
        self.extra = extra or {}

    def reply(self):
        out = {'ok': 0.0, 'errmsg': self.errmsg, 'code': self.code,
               'codeName': self.code_name}
        if self.labels:
            out['errorLabels'] = list(self.labels)
        out.update(self.extra)
        return out

    def write_error(self, index):
        out = {'index': index, 'code': self.code, 'errmsg': self.errmsg}
        out.update(self.extra)
        return out


class CloseConnection(Exception):
    """Drop the client's connection without a reply (failpoint)."""


def bad_value(msg):
    return CommandError(2, 'BadValue', msg)


def type_mismatch(msg):
    return CommandError(14, 'TypeMismatch', msg)


def failed_to_parse(msg):
    return CommandError(9, 'FailedToParse', msg)


def ns_not_found(msg='ns not found'):
    return CommandError(26, 'NamespaceNotFound', msg)
