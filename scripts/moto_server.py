"""moto's server, with each DynamoDB request handled atomically.

moto evaluates a write's condition and then stores the item without a lock, so two concurrent
conditional writes to one item can both succeed (reproduced with PutItem: several winners of
`version = :expected`). Real DynamoDB never allows that, and Posthorn's claims, versioned updates
and idempotency records rely on it. One lock around every DynamoDB action restores the guarantee;
moto runs Python under the GIL anyway, so this costs little. Other services are untouched (an SQS
long poll must not block them).
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _atomic_call_action(self):
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = _atomic_call_action

if __name__ == "__main__":
    main()
