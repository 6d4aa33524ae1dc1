// A module-resolution hook for cli-usage.test.ts: reports each package a CLI run resolves, so a
// test can check which dependencies a command loads (lazy imports, STYLE.md "Shape").
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(result.url);
  if (match) process.stderr.write(`aciimg-test-loaded ${match[1]}\n`);
  return result;
}
