

def serve_forever(app, port: int) -> None:
    """Run a fake as its own process on 127.0.0.1:``port`` (0: any) and print ``PORT <n>`` once listening."""
    import asyncio

    from aiohttp import web

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        print(f"PORT {site._server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    from bot.runtime import run

    # It stands in for a provider's servers, which are elsewhere: on this machine it should cost the
    # process under test as little CPU as it can, so it runs on the same light loop.
    run(serve())
