import { expect } from 'chai';
import { execNodeName, imageName, npmPackageName, programName, pythonPackageName, scriptName } from '../lib/paths/exec-node';

/** [file, args, expected node]: the command as the app gives it to spawn/execFile. */
const CASES: [string, string[], string][] = [
  // The example: the package, however it is started.
  ['npx', ['-y', '@modelcontextprotocol/server-everything'], '@modelcontextprotocol/server-everything'],
  ['node', ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'], '@modelcontextprotocol/server-everything'],
  ['/usr/local/bin/node', ['/home/u/.npm/_npx/4f1a/node_modules/@modelcontextprotocol/server-everything/dist/index.js'], '@modelcontextprotocol/server-everything'],
  ['npx', ['--yes', '@modelcontextprotocol/server-everything@2026.8.31', 'stdio'], '@modelcontextprotocol/server-everything'],
  ['npx', ['-y', 'supergateway@4', '--stdio', 'x'], 'supergateway'],
  ['npx', ['--package=@acme/tools@1.0.0', 'acme-fetch'], '@acme/tools'],
  ['npx', ['-p', '@acme/tools', 'acme-fetch'], '@acme/tools'],
  ['npx', ['-c', 'node server.js --port 1'], 'server.js'],
  ['npx', ['--', 'mcp-remote@latest', 'https://x'], 'mcp-remote'],
  ['npx', [], 'npx'],
  ['npm', ['exec', '--yes', '--', 'pkg@2', '--flag'], 'pkg'],
  ['npm', ['x', '-y', '@s/p'], '@s/p'],
  ['npm', ['run', 'start'], 'npm'],
  ['pnpm', ['dlx', 'some-server@1.2.3'], 'some-server'],
  ['pnpx', ['some-server'], 'some-server'],
  ['yarn', ['dlx', '-p', '@s/pkg', 'bin'], '@s/pkg'],
  ['bunx', ['@scope/pkg@latest', '--stdio'], '@scope/pkg'],
  ['bun', ['x', 'cowsay'], 'cowsay'],
  ['bun', ['run', 'server.ts'], 'server.ts'],
  ['bun', ['agent.js'], 'agent.js'],
  // node and friends: flags (with values) skipped to the script.
  ['node', ['server.js'], 'server.js'],
  [process.execPath, ['--import', 'tsx', '-r', './otel.js', '--max-old-space-size=512', 'agents/weather.ts', '--stdio'], 'weather.ts'],
  ['node', ['--enable-source-maps', '--', 'dist/main.js'], 'main.js'],
  ['node', ['node_modules/.bin/mcp-server-everything'], 'mcp-server-everything'],
  ['node', ['/srv/node_modules/express/lib/x.js'], 'express'],
  ['node', ['-e', 'process.exit(0)'], 'node'],
  ['node', ['--eval=1'], 'node'],
  ['node', ['-p', '1+1'], 'node'],
  ['node', [], 'node'],
  ['nodejs', ['app.mjs'], 'app.mjs'],
  ['C:\\Program Files\\nodejs\\node.exe', ['C:\\srv\\agent.js'], 'agent.js'],
  ['tsx', ['src/server.ts'], 'server.ts'],
  // python
  ['python3', ['-m', 'mcp_server_fetch', '--x'], 'mcp_server_fetch'],
  ['python', ['-u', '-mhttp.server', '8000'], 'http.server'],
  ['python3.12', ['-u', '-W', 'ignore', '/opt/agents/weather.py', '--x'], 'weather.py'],
  ['python', ['/venv/lib/python3.12/site-packages/mcp_server_git/__main__.py'], 'mcp_server_git'],
  ['/usr/bin/python3', ['-c', 'print(1)'], 'python3'],
  ['uvx', ['mcp-server-fetch'], 'mcp-server-fetch'],
  ['uvx', ['mcp-server-fetch==2025.1', '--x'], 'mcp-server-fetch'],
  ['uvx', ['--python', '3.12', 'mcp-server-time@1.0'], 'mcp-server-time'],
  ['uvx', ['--from', 'git+https://github.com/o/r', 'r-server'], 'r-server'],
  ['npx', ['-p', './local-pkg', 'tool'], 'tool'],
  ['uvx', ['--from', 'mcp-server-git[extra]>=1', 'mcp-server-git'], 'mcp-server-git'],
  ['uv', ['tool', 'run', 'mcp-server-time'], 'mcp-server-time'],
  ['uv', ['run', '--with', 'mcp', 'server.py'], 'server.py'],
  ['uv', ['--directory', '/srv/x', 'run', 'python', '-m', 'srv'], 'srv'],
  // containers: flags with values skipped to the image; tag and digest dropped.
  ['docker', ['run', '-i', '--rm', '-e', 'TOKEN=x', '-v', '/a:/b', '--name', 'x', 'ghcr.io/github/github-mcp-server:v1@sha256:abc', 'stdio'], 'ghcr.io/github/github-mcp-server'],
  ['docker', ['-H', 'tcp://h:2375', 'container', 'run', '-dit', '-p', '80:80', 'localhost:5000/img:2'], 'localhost:5000/img'],
  ['docker', ['run', '--network=host', '-ePORT=1', '-it', 'mcp/fetch'], 'mcp/fetch'],
  ['docker', ['run', '--rm', '-i', 'alpine', 'sh', '-c', 'echo'], 'alpine'],
  ['podman', ['run', '--rm', '-u', '1000', '-w', '/srv', 'quay.io/org/agent:latest'], 'quay.io/org/agent'],
  ['/usr/bin/docker', ['ps'], 'docker'],
  ['docker', ['run'], 'docker'],
  // deno
  ['deno', ['run', '--allow-net', '-c', 'deno.json', 'https://example.com/x/server.ts?v=1'], 'server.ts'],
  ['deno', ['run', '-A', 'npm:@scope/pkg@1.2/bin'], '@scope/pkg'],
  ['deno', ['run', 'jsr:@std/http@1/file-server'], '@std/http'],
  ['deno', ['main.ts'], 'main.ts'],
  ['deno', ['task', 'dev'], 'deno'],
  // kubectl exec: the pod.
  ['kubectl', ['exec', '-n', 'prod', '-i', 'pod/agent-1', '-c', 'main', '--', 'agent'], 'agent-1'],
  ['/usr/local/bin/kubectl', ['--context', 'c1', 'exec', '-it', 'a-2', '--', 'sh'], 'a-2'],
  ['oc', ['exec', 'agent-0', '--', 'x'], 'agent-0'],
  ['kubectl', ['get', 'pods'], 'kubectl'],
  // wrappers
  ['env', ['FOO=1', '-u', 'BAR', 'node', 'srv.js'], 'srv.js'],
  ['env', [], 'env'],
  // anything else: the program's base name
  ['/usr/bin/git', ['status'], 'git'],
  ['./bin/agent', ['--stdio'], 'agent'],
  ['C:\\tools\\agent.cmd', [], 'agent'],
];

describe('zero-config exec node names', () => {
  for (const [file, args, expected] of CASES) {
    it(`${file} ${args.join(' ')} → ${expected}`, () => {
      expect(execNodeName(file, args)).to.equal(expected);
    });
  }

  it('caps a name at the label length the metrics accept (256)', () => {
    const long = 'x'.repeat(300);
    expect(execNodeName('node', [`${long}.js`])).to.equal(`${long}.js`.slice(0, 256));
  });

  it('bounds wrapper recursion (env env env … is named after the last program it looked at)', () => {
    const args = [...Array(10).fill('env'), 'node', 'a.js'];
    expect(execNodeName('env', args)).to.equal('env');
  });

  it('parts', () => {
    expect(npmPackageName('@a/b@1')).to.equal('@a/b');
    expect(npmPackageName('@a/b')).to.equal('@a/b');
    expect(npmPackageName('b@^1.2')).to.equal('b');
    expect(pythonPackageName('a.b-c_d~=1')).to.equal('a.b-c_d');
    expect(imageName('img')).to.equal('img');
    expect(imageName('host:5000/img')).to.equal('host:5000/img');
    expect(imageName('img@sha256:00')).to.equal('img');
    expect(scriptName('./a/b.js')).to.equal('b.js');
    expect(programName('/x/y.EXE')).to.equal('y');
  });
});
