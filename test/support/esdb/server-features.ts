import type { handleUnaryCall, MethodDefinition } from '@grpc/grpc-js';
import type { Empty } from '@eventstore/db-client/generated/shared_pb';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';

export interface ServerFeaturesSettings {
  readonly serverVersion: string;
  readonly supportsBatchAppend: boolean;
}

/**
 * ServerFeatures.GetSupportedMethods: the version and the methods this server implements.
 * The client asks once per connection and appends through BatchAppend only when it is listed.
 */
export function serverFeaturesHandler(settings: ServerFeaturesSettings): handleUnaryCall<Empty, SupportedMethods> {
  const methods = [
    StreamsService.read,
    StreamsService.append,
    ...(settings.supportsBatchAppend ? [StreamsService.batchAppend] : []),
    ServerFeaturesService.getSupportedMethods,
  ].map(supportedMethod);
  return (_call, callback) => {
    callback(null, new SupportedMethods().setEventStoreServerVersion(settings.serverVersion).setMethodsList(methods));
  };
}

/** A method named as the client looks it up: `/<service>/<method>` of its path, compared case-insensitively. */
function supportedMethod({ path }: Pick<MethodDefinition<unknown, unknown>, 'path'>): SupportedMethod {
  const [, serviceName, methodName] = path.split('/');
  return new SupportedMethod().setServiceName(serviceName.toLowerCase()).setMethodName(methodName.toLowerCase());
}
