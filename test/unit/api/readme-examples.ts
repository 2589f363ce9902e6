/**
 * The README's library examples: each ```ts block after an `<!-- example: NAME -->` comment, with
 * the output it documents (`// → ...` lines, in order). Shared by the test that runs them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ReadmeExample {
  name: string;
  code: string;
  /** The `// → ` lines, in order: what the example prints on stdout. */
  expected: string[];
  /** 1-based line of the code block in README.md, for messages. */
  line: number;
}

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function readmeExamples(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')): ReadmeExample[] {
  const lines = readme.split('\n');
  const out: ReadmeExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^<!-- example: ([\w-]+) -->$/.exec(lines[i]!.trim());
    if (!m) continue;
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    if (!/^```ts\s*$/.test(lines[j] ?? '')) throw new Error(`README.md:${i + 1}: example '${m[1]}' is not followed by a \`\`\`ts block`);
    const start = j + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    const body = lines.slice(start, end);
    out.push({
      name: m[1]!,
      code: body.join('\n'),
      expected: body.map((l) => /^\s*\/\/ → (.*)$/.exec(l)?.[1]).filter((l): l is string => l !== undefined),
      line: start + 1,
    });
    i = end;
  }
  return out;
}

/** The package's specifiers pointing at the TypeScript sources, so the examples run without a build. */
export function toSources(code: string): string {
  const targets: Record<string, string> = {
    trajforge: 'src/index.ts',
    'trajforge/env': 'src/api/env.ts',
    'trajforge/dataset': 'src/api/dataset.ts',
    'trajforge/model': 'src/api/model.ts',
  };
  return code.replace(/from '(trajforge(?:\/[a-z]+)?)'/g, (whole, spec: string) => {
    const target = targets[spec];
    if (!target) throw new Error(`README example imports '${spec}', which package.json does not export`);
    return `from ${JSON.stringify(join(ROOT, target))}`;
  });
}
