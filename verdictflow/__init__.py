"""verdictflow: check text against evidence, claim by claim."""

__version__ = "0.1.0"
