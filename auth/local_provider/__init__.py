"""The local OpenID provider: development and test only, never mounted in production."""

from auth.local_provider.server import LocalProvider, read_oauth2_request

__all__ = ["LocalProvider", "read_oauth2_request"]
