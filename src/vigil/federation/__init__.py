"""Vigil-to-Vigil federation: links, the catalog and status change feed, remote cameras, proxied video.

Importing the package (the schema does, with every instance) registers the change-log listeners once:
the registry never calls federation; federation watches the registry's writes.
"""

from vigil.federation.changes import install

install()
