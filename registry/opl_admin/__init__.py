"""The OPL admin's own work: processes (one by one or from a file), aspirants and reviewers, and the OPL's
inconsistency catalogue. Every function takes the admin's OPL; an id of another OPL's row is `NotFound`."""


class NotFound(Exception):
    """No such row in the admin's OPL (another OPL's ids included): the page answers 404."""
