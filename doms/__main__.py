from doms.cli import main

raise SystemExit(main())
