from cotlens.cli import main

main()
