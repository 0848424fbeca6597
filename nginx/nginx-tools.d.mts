// Types for nginx-tools.mjs (plain JavaScript so that scripts can run it before the package is built).
export declare const PUSH_STREAM_MODULE_VERSION: string;
export declare const PUSH_STREAM_MODULE_FILE: string;
export declare const NCHAN_MODULE_FILE: string;
export declare const JS_MODULE_FILE: string;
export declare const APT_JS_PACKAGE: string;
export declare const APT_NGINX_PACKAGES: readonly string[];
export declare const APT_BUILD_PACKAGES: readonly string[];
export declare class NginxToolsError extends Error {}
export declare function aptCommand(packages: readonly string[]): string;
export declare function findNginx(env?: NodeJS.ProcessEnv): string | undefined;
export declare function nginxBuildInfo(binary: string): string;
export declare function nginxVersion(binary: string): string | undefined;
export declare function moduleCacheDir(env?: NodeJS.ProcessEnv): string;
export declare function cachedPushStreamModule(version: string, env?: NodeJS.ProcessEnv): string;
export type ModuleLocation = { loadModule: string; missing?: undefined } | { missing: string; loadModule?: undefined };
export declare function locateModule(server: 'nchan' | 'push-stream', binary: string, env?: NodeJS.ProcessEnv): ModuleLocation;
export declare function locateJsModule(binary: string, env?: NodeJS.ProcessEnv): ModuleLocation;
export declare function buildPushStreamModule(options?: { binary?: string; env?: NodeJS.ProcessEnv; log?: (line: string) => void }): Promise<string>;
