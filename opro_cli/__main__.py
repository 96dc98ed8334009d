from opro_cli.cli import main

main()
