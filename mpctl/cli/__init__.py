"""The command-line interface; see the module docstrings inside this package.

Importing it switches pydantic's plug-ins off for the process (`PYDANTIC_DISABLE_PLUGINS`).
mpctl validates private keys, tokens and admin credentials with pydantic models, and a plug-in
installed beside it (a tracing or telemetry hook) would be handed every one of them. Looking
for plug-ins also read every installed distribution's entry points a second time (the sink
registry reads them once): `mpctl validate` 217 -> 211 ms. Must hold nothing else.
"""

import os

os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
