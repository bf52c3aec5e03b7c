/**
 * Certify as a gRPC method: the call's signal, deadline and peer address go to the handler, its
 * result goes back as the answer (a refusal's code and message as the status), and each call
 * publishes its CertifyEvent (certify-event.ts) once, before it is answered.
 */
import type { ServerUnaryCall, ServiceError } from '@grpc/grpc-js';
import { describeError } from '../errors.js';
import { callSignal, msLeft } from './call-deadline.js';
import { peerAddress } from './certify-admission.js';
import { certifyEventOf, internalEventOf, publishCertifyEvent } from './certify-event.js';
import type { CertifyCall } from './certify-gate.js';
import { type CertifyResult, refusalOf } from './certify-outcome.js';
import type { CertifyRequest, CertifyResponse } from './protocol.js';

type CertifyHandler = (req: CertifyRequest, call?: CertifyCall) => Promise<CertifyResult>;

/** The unary Certify method of identityServiceDefinition, answering with `handle`. */
export function certifyMethod(handle: CertifyHandler) {
  return (
    call: ServerUnaryCall<CertifyRequest, CertifyResponse>,
    callback: (err: Partial<ServiceError> | null, res?: CertifyResponse) => void,
  ): void => {
    const arrived = performance.now();
    const peer = peerAddress(call.getPeer());
    const facts = () => ({ peer, durationMs: performance.now() - arrived });
    handle(call.request, { signal: callSignal(call), msLeft: msLeft(call.getDeadline()), peer }).then(
      (result) => {
        publishCertifyEvent(certifyEventOf(result, facts()));
        if (result.ok) callback(null, result.response);
        else callback({ code: result.code, details: result.message });
      },
      (err: unknown) => {
        publishCertifyEvent(internalEventOf(describeError(err), facts()));
        callback({ code: refusalOf('internal').code, details: `signing failed: ${describeError(err)}` });
      },
    );
  };
}
