// The server's lifecycle as every front end sees it: serving, then (on SIGTERM) draining, then no
// longer admitting. Readiness, the HTTP hooks and the shutdown sequence all read this one object.
//
// - serving: everything is served.
// - draining: readiness answers 503 (so load balancers stop sending), but every request and new
//   connection is still served for the drain delay; HTTP answers carry `Connection: close`, so
//   clients reconnect rather than reuse a connection that is about to close.
// - closing: listeners are closed and new requests are refused with 503 (SHUTTING_DOWN); requests
//   already admitted, queued or running, finish (within the shutdown grace).
export type Phase = 'serving' | 'draining' | 'closing';

export class Lifecycle {
  phase: Phase = 'serving';

  /** Readiness must answer 503: the server is on its way out. */
  get draining(): boolean {
    return this.phase !== 'serving';
  }

  /** New requests are still admitted. */
  get admitting(): boolean {
    return this.phase !== 'closing';
  }
}
