#!/usr/bin/env python3
"""echo: the smallest tradebus component, in Python (docs/components.md).

The same protocol as echo.c, with the standard library only: tradebus
writes each subscribed event as one JSON line on stdin; we answer with
zero or more events and then {"end": "<the input's event_id>"}, flushed.
With --publish, one RiskAlert per input first. At end of stdin: exit 0.

    [component.echo]
    command = python3 examples/components/echo.py --publish
    subscribes = MarketData
    publishes = RiskAlert
"""
import json
import sys


def main():
    publish = "--publish" in sys.argv[1:]
    out = sys.stdout
    for line in sys.stdin:
        event = json.loads(line)
        eid = event["event_id"]  # a string of digits: keep it as is
        if publish:
            alert = {
                "type": "RiskAlert",
                "payload": {
                    "rule": "echo",
                    "detail": "event " + eid,
                    "trading_state": "ACTIVE",
                    "strategy_id": "echo",
                    "symbol": event["payload"].get("symbol", "BTCUSDT"),
                },
            }
            out.write(json.dumps(alert, separators=(",", ":")) + "\n")
        out.write('{"end":"' + eid + '"}\n')
        # Once per reply: tradebus sends the next event only after reading
        # the end line, so an unflushed reply would stall both sides.
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
