"""evidence: keep, check and hand over the documentation behind MIPS Improvement Activities."""

__version__ = "0.1.0"
