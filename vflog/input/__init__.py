"""Open what the caller gives as named inputs of text lines.

A source is a path (str or os.PathLike: file, directory, archive, glob; ``-`` for standard
input), bytes, Text, a stream or an iterable of str lines; a str is never guessed to be log
text.  Lines end at LF only, as ``grep -n`` counts them, on every path; a line over
Limits.max_line keeps its first max_line bytes and is still one line.  Binary data is refused.
Compression (gzip, bzip2, xz, zstd) is recognised by content, not by name.  Archives (tar in
any compression, zip) and directories are read member by member, never extracted under their
own names and never held in memory whole (a tar that is not a plain file is read once, the
members that could be chosen copied to a private temporary file); from them vflog picks the
kernel logs (sosreport, WALinuxAgent ``logs.zip``, ``/var/log``): the best family of
``kern.log*``, ``messages*``, ``syslog*``, journal exports, ``dmesg*``, rotated files oldest
first.  A member that cannot be read becomes an input whose reading raises InputError, so the
other members are still analysed; a damaged archive still yields the members before the damage.

One job per module, in the order the bytes flow:

- values: Source, Limits, Text, Tally, Input (what the other modules pass around);
- dispatch: open_inputs, which inputs a source holds (paths, globs, streams, bytes, lines);
- files: directory walks, special files, opening a file;
- compression: decompressors found by content, bounded against bombs;
- archives: tar and zip listings, spooling, damage;
- members: Selection, the kernel-log FAMILIES and rotation order;
- text: bytes to text blocks at LF line ends, the line cap, the binary check;
- export: journal exports as one JSON line per entry.
"""

from __future__ import annotations

from .archives import MAX_MEMBERS
from .compression import inflate_module
from .dispatch import open_inputs
from .members import FAMILIES, Selection, rotation_key
from .text import utf8_boundary
from .values import Input, Limits, Source, Tally, Text, chunk_lines

__all__ = ["FAMILIES", "MAX_MEMBERS", "Input", "Limits", "Selection", "Source", "Tally", "Text", "chunk_lines",
           "inflate_module", "open_inputs", "rotation_key", "utf8_boundary"]
