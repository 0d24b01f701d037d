import { status } from '@grpc/grpc-js';
import type { handleBidiStreamingCall, handleUnaryCall, ServiceError } from '@grpc/grpc-js';

/*
 * Methods the services define but this server does not implement. Answering UNIMPLEMENTED
 * says so plainly; a made-up success would let a test pass against behaviour nobody checked.
 */

export function unimplementedUnary(methodName: string): handleUnaryCall<unknown, unknown> {
  return (_call, callback) => callback(unimplementedStatus(methodName));
}

export function unimplementedBidi(methodName: string): handleBidiStreamingCall<unknown, unknown> {
  return (call) => {
    call.emit('error', unimplementedStatus(methodName));
  };
}

function unimplementedStatus(methodName: string): Partial<ServiceError> {
  return { code: status.UNIMPLEMENTED, details: `The EventStoreDB test server does not implement ${methodName}` };
}
