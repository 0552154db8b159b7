#!/usr/bin/env node
'use strict';
// The compiled command lives in dist/, which `npm ci` builds through the root "prepare" script.
require('../dist/main.js').main(process.argv);
