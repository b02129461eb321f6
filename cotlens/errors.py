"""Library errors. The CLI turns any CotlensError into a one-line message and exit code 1, a UsageError into
exit code 2."""


class CotlensError(Exception):
    """Base class of every error cotlens raises on purpose."""


class InputError(CotlensError):
    """An input (file, archive, stream) cannot be read at all."""


class RecordError(CotlensError):
    """One input record cannot be turned into a transcript; it is rejected, the rest go on."""


class UnknownShapeError(RecordError):
    """No registered format recognizes a record."""


class UsageError(CotlensError):
    """What was asked cannot be done as asked: a malformed option value (mapping, lexicon, gate, a model given
    twice). Nothing was read or written yet."""


class MappingError(UsageError):
    """A declarative mapping is malformed."""


class StoreError(CotlensError):
    """The store is missing, unreadable or inconsistent."""


class LexiconError(UsageError):
    """A lexicon or term cannot be used (unreadable file, malformed or refused regex)."""
