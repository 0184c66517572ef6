from tpusim.cli import main

raise SystemExit(main())
