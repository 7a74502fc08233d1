#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm ci` (the `prepare` script); this shim only points at it.
'use strict';
require('../dist/client/cli.js').runCli(process.argv);
