from sensorkit.cli.main import main

raise SystemExit(main())
