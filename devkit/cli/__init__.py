"""The `lgsp` subcommands of the development kit: kafka, stub, simulate, bench.

`gateway.cli` imports one of these modules only when its command is the one being run
(or listed by `lgsp --help`), so `lgsp run` never loads the development kit.
"""
