from inspector.cli.commands import run

run()
