from igtools.cli import main

main()
