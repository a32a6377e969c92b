from dreamcut.cli import main

main()
