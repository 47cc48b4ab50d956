"""The limits on how large a YAML file and the document it expands to may be.

One place for the sizes that keep a hostile or careless file from taking the validator's
memory and time: bytes of the file, nesting depth, values (aliases counted each time they are
used) and characters of text. The loader, the walker and the merge-key resolution all keep to
them.
"""

MAX_FILE_BYTES = 2_000_000
MAX_DEPTH = 40
MAX_NODES = 200_000
MAX_TEXT = 10_000_000
"""Characters of text a document may expand to: without aliases it is at most the file's size;
aliases of a long text may repeat it, but not beyond this."""
