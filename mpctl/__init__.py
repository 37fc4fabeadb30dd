"""mpctl: a declarative reconciler for Maskinporten clients, scopes, keys and delegations.

This package root owns nothing but the version; every concept lives in a subpackage. Layering
(DESIGN.md): cli → apply|verify → secrets|render|manifests → remote → plan → model.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
