"""Headless command modules. Each defines ``register(subparsers)`` and async handlers
``handle(args, ctx) -> int``; they call ``console.core`` and print through ``ctx.out``."""
