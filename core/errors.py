"""The service's domain errors: what its rules refuse, said for the user. The API maps each to an
HTTP status, the CLI to a message; the services know nothing of either."""


class Refused(Exception):
    """A request the rules do not allow; str(error) says why, for the user."""


class Closed(Refused):
    """The assignment takes no more uploads (its late deadline has passed)."""


class LimitReached(Refused):
    """The student has used every submission the assignment allows."""


class InvalidSettings(Refused):
    """Settings that cannot hold together (a late deadline before the due date)."""


class NotFound(Refused):
    """The thing asked for is not there (or not the caller's to see)."""


class WrongPassword(Refused):
    """The current password given to change it is not the user's."""
