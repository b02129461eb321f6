"""Library errors. The CLI turns any CotlensError into a one-line message and exit code 1."""


class CotlensError(Exception):
    """Base class of every error cotlens raises on purpose."""


class InputError(CotlensError):
    """An input (file, archive, stream) cannot be read at all."""


class RecordError(CotlensError):
    """One input record cannot be turned into a transcript; it is rejected, the rest go on."""


class UnknownShapeError(RecordError):
    """No registered format recognizes a record."""


class MappingError(CotlensError):
    """A declarative mapping is malformed."""


class StoreError(CotlensError):
    """The store is missing, unreadable or inconsistent."""


class LexiconError(CotlensError):
    """A lexicon or term cannot be used (unreadable file, malformed or refused regex)."""
