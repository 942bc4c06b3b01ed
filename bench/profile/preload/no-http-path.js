// Attribution experiment: the HTTP automatic path not subscribed (nothing recorded per call).
'use strict';
const { HttpClientPath } = require('../../../dist/http-path');
HttpClientPath.prototype.enable = function () {};
