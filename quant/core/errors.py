"""One exception type for every input the toolkit refuses, with a message that says what to do."""


class FineQError(ValueError):
    """Bad input: a weight, file, model or setting the toolkit cannot use (the message says why)."""
