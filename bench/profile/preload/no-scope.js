// Attribution experiment: the automatic paths' AsyncLocalStorage never created
// (enableScope() a no-op), so no promise hooks; dedup of explicit-vs-automatic
// is off (irrelevant for the example gateway, which has no explicit measure()).
'use strict';
const scope = require('../../../dist/core/scope');
scope.enableScope = () => {};
