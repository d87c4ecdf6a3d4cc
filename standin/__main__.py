"""`python -m standin`: run the stand-in alone and print how to point a bot (or discord.py) at it."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict

from .server import StandIn


async def serve(port: int, deadline: float, global_limit: int | None) -> None:
    async with StandIn(port=port, interaction_deadline=deadline, global_rate_limit=global_limit) as standin:
        info = {
            "api_base_url": standin.api_base_url,
            "gateway_url": standin.gateway_url,
            **(asdict(standin.defaults) if standin.defaults else {}),
        }
        print(json.dumps(info, indent=2), flush=True)
        print("[discord] config for studybot:", flush=True)
        print(f'token = "{standin.app.token}"', flush=True)
        print(f'api_base_url = "{standin.api_base_url}"', flush=True)
        print(f'gateway_url = "{standin.gateway_url}"', flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m standin", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--deadline", type=float, default=3.0, help="interaction deadline in seconds")
    parser.add_argument("--global-limit", type=int, default=None, help="global requests/s limit (off by default)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.deadline, args.global_limit))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
