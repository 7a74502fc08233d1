/**
 * ONNX_EXPORT_METRICS_ADDRESS: where a worker serves Prometheus metrics (`/metrics`), as
 * `<ip>:<port>` or `[<ipv6>]:<port>`; unset or empty means no endpoint (the default). The SDK's
 * exporter binds a socket address, not a host name, so only `localhost` is translated (to
 * 127.0.0.1); any other name is refused here rather than failing later inside the SDK's Rust core.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const METRICS_ADDRESS_VARIABLE = 'ONNX_EXPORT_METRICS_ADDRESS';

export function parseMetricsAddress(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  const fail = (why: string): never => {
    throw new Error(
      `${METRICS_ADDRESS_VARIABLE}=${raw}: ${why}; expected <ip>:<port> such as 127.0.0.1:9464 or [::1]:9464 (unset: no metrics endpoint)`,
    );
  };
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value);
  if (!m) return fail('not a host and port');
  const [, bracketed, plain, portText] = m;
  const port = Number(portText);
  // Port 0 would bind a port nobody is told about.
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(`port ${portText} is not between 1 and 65535`);
  if (bracketed !== undefined) {
    if (!isIPv6(bracketed)) return fail(`[${bracketed}] is not an IPv6 address`);
    return `[${bracketed}]:${port}`;
  }
  const host = plain === 'localhost' ? '127.0.0.1' : (plain as string);
  if (!isIPv4(host)) return fail(`${host} is not an IPv4 address (host names other than localhost are not accepted)`);
  return `${host}:${port}`;
}
