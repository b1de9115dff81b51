/**
 * `argus export`: a model as a self-contained package with its parity self-test (models.export), and
 * `argus export --verify <dir>`: re-hashes every file of a package and re-runs its golden set.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeParity, ExportError, verifyPackage } from '../export/package.ts';
import { findModel } from './project.ts';
import { withProject } from './station-client.ts';

export const EXPORT_USAGE = `argus export   --project <dir> (--model <id> | --product <name|id>) --out <dir>
argus export   --verify <dir>

'export' writes the model as a package (ONNX graphs, Node and Python runners, golden images,
manifest.json with the sha256 of every file) into --out (new, empty, or an earlier export of the same
model) and runs the package's own runners on golden images: the export is refused, and the package
removed, unless they reproduce the station's scores and maps within the tolerance in manifest.json.
'--verify' fails when any file differs from the manifest or the golden set no longer matches.`;

export async function runExport(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { project: { type: 'string' }, product: { type: 'string' }, model: { type: 'string' }, out: { type: 'string' }, verify: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log(EXPORT_USAGE);
    return 0;
  }
  if (values.verify !== undefined) {
    try {
      const v = await verifyPackage(values.verify);
      console.log(`package ${v.dir}: ${v.manifest.files.length} files match manifest.json (model ${v.manifest.model.id} v${v.manifest.model.version}, ${v.manifest.method})`);
      console.log(describeParity(v.parity, v.manifest.tolerance));
      return 0;
    } catch (err) {
      if (!(err instanceof ExportError)) throw err;
      console.error(err.message);
      return 1;
    }
  }
  if (!values.project || !values.out) throw new RangeError(`--project and --out are required (or --verify <dir>)\n\n${EXPORT_USAGE}`);
  const out = resolve(values.out);
  return withProject(values.project, async (s) => {
    const model = await findModel(s, values);
    const r = await s.call('models.export', { modelId: model.id, out });
    const tiles = r.tiling ? `; tiled: ${r.tiling.tiles} tiles of ${r.tiling.tileSize} px over a ${r.tiling.canvas.height}x${r.tiling.canvas.width} canvas` : '';
    console.log(`model ${model.id} v${model.version} (${r.method}, ${r.precision}) exported to ${r.out}: ${r.files} files, ${r.goldenImages} golden images${tiles}`);
    console.log(describeParity(r.parity, r.tolerance));
    return 0;
  });
}
