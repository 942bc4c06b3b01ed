/**
 * The protocols the transports read, in the order they are asked. A new
 * protocol is one file implementing `Protocol` (protocol.ts) and one line here.
 */
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { Protocol, ProtocolConfig, ProtocolFactory } from './protocol';
import { llmProtocol } from './llm';
import { mcpProtocol } from './mcp';

export const PROTOCOLS: readonly ProtocolFactory[] = [
  mcpProtocol,
  llmProtocol,
];

/** The protocols a registration reads (those its configuration leaves on). */
export function protocolsFor(metrics: GatewayMetrics, config: ProtocolConfig): Protocol[] {
  const out: Protocol[] = [];
  for (const make of PROTOCOLS) {
    const p = make(metrics, config);
    if (p !== undefined) out.push(p);
  }
  return out;
}
