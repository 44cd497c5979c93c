"""Built-in node types. Importing this package registers them."""
from . import ai, data, http_request, io, logic, messages  # noqa: F401 - imported for effect: each module registers its types
