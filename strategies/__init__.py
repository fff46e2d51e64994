"""Pure strategy compilers: a validated strategy spec in, a tuple of Steps out.

No AWS, no clock, no I/O. `deployer.plan.compile.compile_strategy` is the entry point.
"""
