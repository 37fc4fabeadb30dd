"""The command-line interface; see the module docstrings inside this package.

Importing it switches pydantic's plug-ins off for the process (`PYDANTIC_DISABLE_PLUGINS`).
mpctl validates private keys, tokens and admin credentials with pydantic models, and a plug-in
installed beside it (a tracing or telemetry hook) would be handed every one of them; looking
for plug-ins also read every installed distribution's entry points, about 20 ms of each
command's start. Must hold nothing else.
"""

import os

os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
