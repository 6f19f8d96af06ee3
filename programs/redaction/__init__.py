"""Redaction of secrets in anything the suite writes: logs, errors, attachments, reports, the terminal.

Secrets are caught by shape (programs/redaction/shapes.py: keys, tokens, credentials in
headers, flags, URLs, assignments and mappings, whose names programs/redaction/words.py
judges), by the structure of a document (documents.py: a Secret's data, an exec plugin's env,
block scalars), by value (values.py: registered at run time, in every form a tool prints),
and inside base64 (blobs.py). ``Redactor`` (redactor.py) applies them all.

Over-redaction is guarded as carefully as leaks: a name is secret only when a secret word
ends it (``secret_name``, ``tokenFile``, ``--external-tls-secret`` stay readable), short
registered values are removed only as whole tokens, and tests/test_redaction_readable.py
proves that the plan goldens and ordinary tool output come through unchanged.

A key naming a secret has its value redacted only when that value is a string (or a list of
strings): every secret family in tests/redaction_families.py is a string, while a number or boolean under such a
key is data (the timeout table's ``install.remote-secret: 120`` in the conformance report). So
an unquoted number or true/false in JSON, YAML or a Python repr, and a non-string in a document
(``Redactor.redact_document``), is kept; INI entries, flags and assignments hold only strings.
"""

from programs.redaction.redactor import Redactor, copy_redacted, copy_tree_redacted
from programs.redaction.shapes import REDACTED

__all__ = ["REDACTED", "Redactor", "copy_redacted", "copy_tree_redacted"]
