"""Built-in node types. Importing this package registers them."""
from . import agent, ai, data, extract, http_request, io, knowledge, logic, messages, subflow  # noqa: F401 - imported for effect: each module registers its types
