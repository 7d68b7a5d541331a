from sel.cli import main

raise SystemExit(main())
