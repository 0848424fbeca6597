/**
 * The runtime names of every entry point of the package, as reviewed. Adding or removing one is an
 * API change: update this list in the same change, on purpose. Checked against the sources by
 * test/unit/public-api.spec.ts and against the packed package by test/e2e/packaging.e2e.spec.ts.
 */
export const PUBLIC_API: Readonly<Record<string, readonly string[]>> = {
  '.': [
    // module, service, channel names
    'PushStreamModule',
    'PushStreamService',
    'PushStreamChannels',
    'pushStreamOptionsFromEnv',
    // transports and servers: tokens that are also types
    'PushStreamHttpClient',
    'UndiciHttpClient',
    'PushStreamDialect',
    // errors
    'PushStreamError',
    'PushStreamConfigError',
    'InvalidChannelNameError',
    'InvalidMessageError',
    'MessageTooLargeError',
    'ChannelSetTooLargeError',
    'PartialPublishError',
    'PartialNodePublishError',
    'PushStreamHttpError',
    'PushStreamConnectionError',
    'PushStreamTimeoutError',
    'PushStreamProtocolError',
    'redactUrl',
    // subscriber authorization
    'PushStreamChannelRule',
    'ChannelAuthGuard',
    'PushStreamAuthController',
    'PushStreamAuthEndpoint',
    'loadedSessionId',
    // observing (metrics, tracing) and signed subscription tickets
    'PushStreamObserver',
    'PushStreamTickets',
  ],
  './auth-listener': ['PushStreamAuthListenerModule', 'PushStreamAuthListener', 'PushStreamSessionReader', 'ExpressSessionReader'],
  './axios': ['AxiosHttpClient'],
  './browser': [
    'PushStreamClient',
    'ResumeTracker',
    'backoffDelay',
    'decodeNchanMessage',
    'decodePushStreamMessage',
    'parseNchanMessageId',
    'parseNchanMetaFrame',
    'splitJsonObjects',
  ],
  './config': ['pushStreamConfig'],
  './metrics': ['PushStreamMetricsModule', 'PushStreamMetrics'],
  './terminus': ['PushStreamHealthIndicator'],
  './testing': [
    'PushStreamTestingModule',
    'PushStreamRecorder',
    'pushStreamMatchers',
    'PUSH_STREAM_CHANNEL_RULES',
    'NginxTestServer',
    'findFreePort',
    'isListening',
    'NGINX_CONFIG_DIR',
    // the ticket format, to sign and check tickets in tests
    'deriveTicketKey',
    'signTicket',
    'ticketChannelPath',
    'verifyTicket',
  ],
};

/**
 * Names that stay only for existing applications, with what replaces them. None at the moment:
 * PUSH_STREAM_RESOLVED_OPTIONS (replaced by PushStreamService.server) has been removed.
 */
export const DEPRECATED: Readonly<Record<string, string>> = {};
