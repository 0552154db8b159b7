#!/usr/bin/env node
'use strict';
// A reader that stops early, such as `| head`, closes the pipe: end quietly, as other command-line
// tools do, instead of with an unhandled EPIPE error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// The compiled command lives in dist/, which `npm ci` builds through the root "prepare" script.
require('../dist/main.js').main(process.argv);
