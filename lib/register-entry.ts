/** `node --require otel-gateway-metrics/register app.js` */
import { registerFromEnv } from './sdk/entry';

registerFromEnv();
