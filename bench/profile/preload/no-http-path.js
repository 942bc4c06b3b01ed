// Attribution experiment: the HTTP automatic path not subscribed (nothing recorded per call).
'use strict';
const { HttpPath } = require('../../../dist/paths/http');
HttpPath.prototype.enable = function () {};
