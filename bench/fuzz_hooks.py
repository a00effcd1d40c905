"""schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS).

The local front applies the edge's per-address rate rules (local/edge.py), so a fuzz run from one address
would mostly fuzz the 429. Each generated request therefore speaks as its own shopper through
X-Forwarded-For, which the front trusts from this machine only, the way the game days' loads do. The 429
itself stays covered: it is documented in openapi.json and tests/integration/test_local_stack.py drives it.
"""

from __future__ import annotations

import itertools

import schemathesis

# schemathesis calls hooks from several worker threads: a generator expression raises "generator already
# executing" when two of them step it at once, while itertools.count's next() is one atomic C call.
_shoppers = itertools.count(1)


def _address(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@schemathesis.hook
def before_call(context, case, **kwargs) -> None:
    case.headers = {**(case.headers or {}), "X-Forwarded-For": _address(next(_shoppers))}
