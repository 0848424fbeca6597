import { NginxToolsError } from '../../nginx/nginx-tools.mjs';
import { runBuildModule } from './build-module-command.js';

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) } };
}

describe('nestjs-push-stream build-module', () => {
  it('prints the built module path on stdout and the build log on stderr', async () => {
    const { out, io: cliIo } = io();
    const env = { NESTJS_PUSH_STREAM_CACHE: '/tmp/cache' };
    const code = await runBuildModule([], env, cliIo, async (options) => {
      expect(options?.env).toBe(env);
      options?.log?.('building');
      return '/tmp/cache/ngx_http_push_stream_module.so';
    });
    expect({ code, ...out }).toEqual({ code: 0, stdout: '/tmp/cache/ngx_http_push_stream_module.so\n', stderr: 'building\n' });
  });

  it('exits 1 with the failed step when the build fails', async () => {
    const { out, io: cliIo } = io();
    const code = await runBuildModule([], {}, cliIo, async () => {
      throw new NginxToolsError('make modules failed (make -j2 modules):\nerror: x');
    });
    expect(code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe('nestjs-push-stream: build-module: make modules failed (make -j2 modules):\nerror: x\n');
  });

  it('prints its help, and refuses arguments with exit 2 before building', async () => {
    const build = async (): Promise<string> => {
      throw new Error('must not build');
    };
    const help = io();
    expect(await runBuildModule(['--help'], {}, help.io, build)).toBe(0);
    expect(help.out.stdout).toContain('Usage: nestjs-push-stream build-module');
    const bad = io();
    expect(await runBuildModule(['--force'], {}, bad.io, build)).toBe(2);
    expect(bad.out.stderr).toContain('build-module takes no arguments, got "--force"');
  });
});
