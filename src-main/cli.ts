/** The `argus` command line: the same services the station uses, scriptable. */
import { runEval, EVAL_USAGE } from './cli/eval.ts';
import { runInfer, INFER_USAGE } from './cli/infer.ts';
import { runF2padEval, F2PAD_EVAL_USAGE } from './cli/f2pad-eval.ts';
import { runCutpaste, CUTPASTE_USAGE } from './cli/cutpaste.ts';
import { PROJECT_COMMANDS, PROJECT_USAGE, runProjectCommand } from './cli/project.ts';
import { EXPORT_USAGE, runExport } from './cli/export.ts';

const USAGE = `argus <command> [options]

Commands:
  eval      fit a method on a dataset's normal images and measure it on its test set
  infer     score images with a saved model and write heatmap overlays
  f2pad-eval  measure F2PAD pixel-accurate refinement of patchcore/padim/cflow on a cut-paste set
  cutpaste  write that cut-paste set as an MVTec-layout folder
  project, import, train, evaluate, inspect, refine, results, report, jobs, ignore, defect-types
            the station's workflow on a project folder (see below)
  export    a model as a self-contained package with a parity self-test; --verify checks one

${EVAL_USAGE}

${INFER_USAGE}

${F2PAD_EVAL_USAGE}

${CUTPASTE_USAGE}

${PROJECT_USAGE}

${EXPORT_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'eval':
      return runEval(rest);
    case 'infer':
      return runInfer(rest);
    case 'f2pad-eval':
      return runF2padEval(rest);
    case 'cutpaste':
      return runCutpaste(rest);
    case 'export':
      return runExport(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      if (PROJECT_COMMANDS.includes(command)) return runProjectCommand(command, rest);
      console.error(`unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`argus: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
