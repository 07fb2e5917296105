from fleetc.cli import main

main()
