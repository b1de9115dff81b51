/**
 * The one API contract between every screen (and the CLI's scripting users) and the station: each
 * method's request schema, validated at run time on the station's side of every transport, and its
 * response type. Electron IPC and browser mode (HTTP + WebSocket) carry exactly these calls.
 *
 *   const project = await api.call('project.open', { dir: '/data/brackets' });
 *   const job = await api.call('models.train', { productId: 1, method: 'patchcore' });
 *   api.onEvent((e) => { if (e.type === 'job') console.log(e.job.progress); });
 *
 * This file is imported by the renderer too: it may import only `zod`, never Node or the store.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Building blocks

export const Id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const Split = z.enum(['train', 'validation', 'test']);
export const Verdict = z.enum(['good', 'defective', 'unlabelled']);
export const MaskKind = z.enum(['ground_truth', 'ignore']);
export const ResultVerdict = z.enum(['pass', 'review', 'fail', 'unjudged']);
export const JobKind = z.enum(['import', 'train', 'evaluate', 'refine', 'inspect', 'report']);
export const JobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted']);
export const MethodName = z.enum(['patchcore', 'padim', 'simplenet', 'pfm', 'pefm', 'cflow']);
/** The detectors whose results F2PAD refines (it has a data term for each). */
export const REFINABLE_METHODS: readonly string[] = ['patchcore', 'padim', 'cflow'];
/** Methods whose models take more normal images without a retrain (models.extend): PatchCore's bank grows, PaDiM's Gaussians are updated exactly. */
export const EXTENDABLE_METHODS: readonly string[] = ['patchcore', 'padim'];
export const ReportFormat = z.enum(['pdf', 'html', 'csv']);
export const ReportKind = z.enum(['validation', 'inspection']);
/** An absolute or relative file-system path as the user typed or picked it. */
export const FsPath = z.string().min(1).max(4096).refine((s) => !s.includes('\0'), 'path contains a NUL byte');
const Name = z.string().trim().min(1).max(200);
const Note = z.string().max(10_000);
/** Bytes carried as base64 (images, masks, reports); JSON on every transport. */
const Base64 = z.string().max(512 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
const Score = z.number().finite();
const Page = { offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(200) };

export const ProjectInfo = z.object({
  dir: z.string(),
  name: z.string(),
  schemaVersion: z.number().int(),
  readonly: z.boolean(),
  /** Jobs the last crash left running, now marked interrupted. */
  interruptedJobs: z.array(Id),
  provider: z.string(),
});

export const Product = z.object({
  id: Id, name: z.string(), description: z.string(), createdAt: z.string(), imageCount: z.number().int(),
  /** The product's ignore region (applied to every image, resized to it), if drawn. */
  ignore: z.object({ sha256: z.string(), width: z.number().int(), height: z.number().int() }).nullable(),
});

export const Image = z.object({
  id: Id, productId: Id, originalPath: z.string(), sha256: z.string(), byteSize: z.number().int(),
  width: z.number().int(), height: z.number().int(), format: z.string(), split: Split, verdict: Verdict,
  defectType: z.string().nullable(), createdAt: z.string(),
  hasGroundTruth: z.boolean(), hasIgnore: z.boolean(),
});

/** One of a product's defect types (store/defect-types.ts); `images`: how many of its images carry it. */
export const DefectType = z.object({ id: Id, productId: Id, name: z.string(), colour: z.string(), position: z.number().int(), createdAt: z.string(), images: z.number().int() });
const Colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, "expected a colour '#rrggbb'");

/** An image as the dataset grid lists it: its latest score under the listing's model (null without one) and its latest reviewer decision. */
export const GridImage = Image.extend({ score: z.number().nullable(), decision: z.enum(['pass', 'fail']).nullable() });

/** A product's images counted per split, label, defect type and latest reviewer decision ('none': never decided). */
export const ImageCounts = z.object({
  total: z.number().int(),
  splits: z.object({ train: z.number().int(), validation: z.number().int(), test: z.number().int() }),
  verdicts: z.object({ good: z.number().int(), defective: z.number().int(), unlabelled: z.number().int() }),
  defectTypes: z.array(z.object({ defectType: z.string(), count: z.number().int() })),
  decisions: z.object({ pass: z.number().int(), fail: z.number().int(), none: z.number().int() }),
});

export const Mask = z.object({ id: Id, imageId: Id, kind: MaskKind, width: z.number().int(), height: z.number().int(), createdAt: z.string() });

export const Model = z.object({
  id: Id, productId: Id, version: z.number().int(), method: z.string(), backboneId: z.string(), backboneSha256: z.string(),
  config: z.record(z.string(), z.unknown()), dataManifestSha256: z.string(), metrics: z.record(z.string(), z.unknown()).nullable(),
  jobId: Id.nullable(), createdAt: z.string(),
});

export const Threshold = z.object({
  id: Id, modelId: Id, version: z.number().int(), imageThreshold: z.number(), pixelThreshold: z.number().nullable(),
  reviewLow: z.number().nullable(), reviewHigh: z.number().nullable(), note: z.string(), createdAt: z.string(),
});

export const Job = z.object({
  id: Id, kind: JobKind, status: JobStatus, productId: Id.nullable(), params: z.unknown(), progress: z.number(),
  step: z.string(), message: z.string(), error: z.string().nullable(), createdAt: z.string(),
  startedAt: z.string().nullable(), finishedAt: z.string().nullable(),
  /** What the job produced: an import's summary (ImportSummary), an inspection's counts, the model a training made. */
  result: z.unknown(),
  /** The interrupted job this one continues. */
  resumesJobId: Id.nullable(),
});

/** A result's F2PAD refinement (its files are read with results.overlay and results.repaired). */
export const Refinement = z.object({
  /** Pixels of the refined mask, at the image's own size. */
  defectAreaPx: z.number().int(),
  /** The detector map threshold the refinement started from. */
  detectorThreshold: z.number(),
  iterations: z.number().int(), seconds: z.number(), jobId: Id.nullable(), createdAt: z.string(),
  settings: z.record(z.string(), z.unknown()),
});

/** A reviewer's decision on a part (store/decisions.ts): the latest one counts, the model's verdict stays. */
export const Decision = z.object({
  id: Id, imageId: Id, resultId: Id.nullable(), modelVerdict: ResultVerdict, verdict: z.enum(['pass', 'fail']),
  defectType: z.string().nullable(), note: z.string(), decidedBy: z.string(), decidedAt: z.string(),
});

export const Result = z.object({
  id: Id, imageId: Id, modelId: Id, thresholdId: Id.nullable(), jobId: Id.nullable(),
  /** The inspection run it belongs to; null for an evaluation result. */
  runId: Id.nullable(), score: z.number(),
  verdict: ResultVerdict, defectAreaPx: z.number().int().nullable(), createdAt: z.string(),
  hasMap: z.boolean(),
  /** The F2PAD refinement of this result, if it was refined (its defect area replaces the detector's). */
  refinement: Refinement.nullable(),
  /** The image's own label and path, for review screens without another call. */
  imageVerdict: Verdict, originalPath: z.string(),
  /** The reviewer's latest decision on this part, if any. */
  decision: Decision.nullable(),
  /** Percent of the good parts not fitted on (validation, else test) that score lower; null before any. */
  goodPercentile: z.number().nullable(),
});

/** What a refinement request may change of F2PAD's defaults (src-main/refine/refine.ts REFINE_DEFAULTS). */
export const RefineSettings = z.object({
  /** An ablation of the seed: the initial estimate only, or without the prior, the sparsity or the sharing. */
  ablation: z.enum(['none', 'init-only', 'no-prior', 'no-sparsity', 'no-sharing']).optional(),
  /** Mask threshold on the anomaly magnitude ‖A‖ (RGB in [0, 1]). */
  tau: z.number().positive().max(2).optional(),
  maxIterations: z.number().int().min(1).max(1000).optional(),
  inpaint: z.enum(['auto', 'donor', 'diffusion']).optional(),
}).strict();

export const Report = z.object({
  id: Id, productId: Id, modelId: Id.nullable(), thresholdId: Id.nullable(),
  /** The inspect job an inspection report covers. */
  jobId: Id.nullable(),
  kind: ReportKind, format: ReportFormat, title: z.string(), byteSize: z.number().int(),
  /** sha256 of the report's bytes, as stored (and printed by the CLI). */
  sha256: z.string(),
  /** sha256 over the data the report covers (images or results). */
  manifestSha256: z.string().nullable(),
  createdAt: z.string(),
});

/** A picture for display: PNG bytes as base64 at most `maxSide` pixels on its longer side. */
export const Picture = z.object({ mediaType: z.literal('image/png'), base64: z.string(), width: z.number().int(), height: z.number().int() });

/** A rectangle in an image's own pixels. */
export const PixelBox = z.object({ x: z.number().int(), y: z.number().int(), width: z.number().int(), height: z.number().int() });

/** Where a tile lies in a tiled model's input canvas, in px (`index` in row-major order from the top left). */
export const TilePlace = z.object({ index: z.number().int().nonnegative(), left: z.number().int(), top: z.number().int(), size: z.number().int().positive() });

/**
 * Why a result was flagged (results.explain). PatchCore ('patch'): the most anomalous patch (outside
 * ignore regions; a normalised model's where its normalised map peaks, a tiled model's in the tile
 * around its stitched map's peak) and the nearest patch of its memory bank, with the training image
 * (and tile) it was taken from.
 * Other methods ('image'): the whole image and the most similar normal training image by global
 * feature distance. `nearest` is null, with `unavailable` saying why, for models stored before Argus
 * recorded where their training data came from.
 */
export const Explanation = z.object({
  resultId: Id, modelId: Id, kind: z.enum(['patch', 'image']),
  flagged: z.object({
    imageId: Id, box: PixelBox,
    /** The feature-grid cell of the patch (row, column on a gridHeight × gridWidth grid); null for 'image'. */
    cell: z.object({ row: z.number().int(), column: z.number().int(), gridHeight: z.number().int(), gridWidth: z.number().int() }).nullable(),
    /** A tiled model's tile holding the patch (its grid is the tile's); null for an untiled model and for 'image'. */
    tile: TilePlace.nullable(),
    /** The patch's anomaly score (PatchCore: its distance to the bank); null for 'image'. */
    patchScore: z.number().nullable(),
    picture: Picture,
  }),
  nearest: z.object({
    imageId: Id, box: PixelBox,
    cell: z.object({ row: z.number().int(), column: z.number().int() }).nullable(),
    tile: TilePlace.nullable(),
    /** Euclidean distance between the two patch features ('patch') or the two image descriptors ('image'). */
    distance: z.number(),
    picture: Picture,
  }).nullable(),
  unavailable: z.string().nullable(),
});

/**
 * A result's anomaly map for the review viewer: `width` × `height` float32 values (little-endian,
 * row-major, base64) on the model's grid spanning the whole `imageWidth` × `imageHeight` image (the
 * station upsamples it bilinearly, PyTorch align_corners=False, to outline defects); its range; the
 * colour scale `low`–`high` of the station's overlays; the thresholds that judged the result.
 */
export const AnomalyMap = z.object({
  width: z.number().int().positive(), height: z.number().int().positive(),
  imageWidth: z.number().int().positive(), imageHeight: z.number().int().positive(),
  base64: z.string(), min: z.number(), max: z.number(), low: z.number(), high: z.number(),
  imageThreshold: z.number().nullable(), pixelThreshold: z.number().nullable(),
});

/** Score statistics for threshold tuning: every labelled image's score under one model. */
/** One runner's golden-set comparison with the station (export/package.ts RunnerParity). */
export const ExportParity = z.object({
  runner: z.enum(['node', 'python']), status: z.enum(['passed', 'failed', 'skipped']), reason: z.string().optional(),
  worstScoreDiff: z.number(), worstMapDiff: z.number(),
  images: z.array(z.object({ file: z.string(), expectedScore: z.number(), score: z.number().nullable(), scoreDiff: z.number(), mapDiff: z.number(), passed: z.boolean(), problem: z.string().optional() })),
});
export type ExportParity = z.infer<typeof ExportParity>;

/** A tiled model's canvas and tiles as its package cuts them (left / top: the tile columns' and rows' edges, px). */
export const ExportTiling = z.object({
  canvas: z.object({ height: z.number().int(), width: z.number().int() }), tileSize: z.number().int(), tileOverlap: z.number().int(), tiles: z.number().int(),
  left: z.array(z.number().int()), top: z.array(z.number().int()),
});
/** A written model package: where, what, and its parity self-test. */
export const ExportResult = z.object({
  out: z.string(), method: z.string(), precision: z.enum(['float32', 'int8']), files: z.number().int(),
  tolerance: z.object({ score: z.number(), map: z.number() }), goldenImages: z.number().int(), parity: z.array(ExportParity),
  /** Null for a stretch or letterbox model. */
  tiling: ExportTiling.nullable(),
});
export type ExportResult = z.infer<typeof ExportResult>;

export const ScoreSet = z.object({
  modelId: Id,
  scores: z.array(z.object({ imageId: Id, score: z.number(), verdict: Verdict, split: Split })),
  /** Threshold that maximises image F1 on the labelled images (null without both classes). */
  f1Threshold: z.number().nullable(),
  /** Highest score of a good image: a threshold just above it rejects no good image. */
  maxGoodScore: z.number().nullable(),
  /** Lowest score of a defective image: a threshold at it lets no defective image pass. */
  minDefectiveScore: z.number().nullable(),
  /**
   * A pixel threshold for outlining defects: the pixel F1-optimal one from the model's evaluation
   * (ground-truth masks), else the 99th percentile of the training images' pixel scores; null when
   * neither is known.
   */
  suggestedPixelThreshold: z.number().nullable(),
});

const Interval = z.object({ low: z.number(), high: z.number() });

/** What an evaluation measured (store/evaluations.ts EvaluationMetrics), with 95 % bootstrap intervals over images. */
export const EvaluationMetrics = z.object({
  images: z.number().int(), good: z.number().int(), defective: z.number().int(),
  imageAuroc: z.number().nullable(), imageF1: z.number().nullable(), f1Threshold: z.number().nullable(),
  pixelAuroc: z.number().nullable(), aupro: z.number().nullable(), pixelF1: z.number().nullable(), pixelF1Threshold: z.number().nullable(),
  pixelImages: z.number().int(),
  intervals: z.object({
    imageAuroc: Interval.nullable(), imageF1: Interval.nullable(), pixelAuroc: Interval.nullable(), pixelF1: Interval.nullable(), aupro: Interval.nullable(),
    resamples: z.number().int(), level: z.number(),
  }),
});

/**
 * The stored record of one evaluation of a model: metrics, curves (at most ~512 points each) and the
 * frozen test set, each image with its label, defect type and score at the time.
 */
export const EvaluationRecord = z.object({
  id: Id, modelId: Id, productId: Id, thresholdId: Id.nullable(), jobId: Id.nullable(), evaluatedAt: z.string(),
  metrics: EvaluationMetrics,
  curves: z.object({
    roc: z.object({ fpr: z.array(z.number()), tpr: z.array(z.number()) }).nullable(),
    pr: z.object({ recall: z.array(z.number()), precision: z.array(z.number()) }).nullable(),
    /** The per-region overlap curve behind AUPRO, up to a little past `fprLimit`. */
    pro: z.object({ fpr: z.array(z.number()), pro: z.array(z.number()), fprLimit: z.number() }).nullable(),
  }),
  images: z.array(z.object({ imageId: Id, verdict: z.enum(['good', 'defective']), defectType: z.string().nullable(), split: z.enum(['validation', 'test']), score: z.number() })),
});

/** Recall of one defect type's images of an evaluation at a threshold (null type: defective images without one). */
export const DefectRecall = z.object({ defectType: z.string().nullable(), images: z.number().int(), caught: z.number().int(), recall: z.number() });

/** A model's latest evaluation as the Evaluate screen shows it: the record, read against the model's current threshold. */
export const Evaluation = z.object({
  record: EvaluationRecord,
  /** The model's latest threshold version now (recall is computed at its image threshold); null before the first. */
  threshold: Threshold.nullable(),
  recallByDefectType: z.array(DefectRecall),
});

const PairedDifference = z.object({ difference: z.number(), low: z.number(), high: z.number(), excludesZero: z.boolean() });
const ComparedMetrics = <T extends z.ZodType>(t: T) => z.object({ imageAuroc: t, imageF1: t, pixelAuroc: t, pixelF1: t, aupro: t });

/**
 * Model versions compared on their shared frozen test set: each model's metrics there, and each
 * model's difference from the baseline (the first one named) with its paired 95 % bootstrap interval.
 */
export const EvaluationComparison = z.object({
  baselineModelId: Id,
  images: z.object({
    shared: z.number().int(), good: z.number().int(), defective: z.number().int(),
    /** Shared images with ground truth and a stored map from every model (the pixel metrics' images). */
    pixel: z.number().int(),
    /** Images some record holds but not all, or labelled differently between them. */
    leftOut: z.number().int(),
  }),
  models: z.array(z.object({ modelId: Id, version: z.number().int(), method: z.string(), evaluationId: Id, metrics: ComparedMetrics(z.number().nullable()) })),
  differences: z.array(ComparedMetrics(PairedDifference.nullable()).extend({ modelId: Id, baselineModelId: Id })),
  resamples: z.number().int(), level: z.number(), seconds: z.number(),
});

export const ImportSummary = z.object({
  imported: z.number().int(), duplicates: z.number().int(), failed: z.number().int(),
  problems: z.array(z.object({ path: z.string(), problem: z.string() })),
});

/** What a refinement job reports in its result (Job.result). */
export const RefinementSummary = z.object({
  refined: z.number().int(), resultIds: z.array(Id),
  skipped: z.array(z.object({ path: z.string(), problem: z.string() })),
});
export type RefinementSummary = z.output<typeof RefinementSummary>;

/** An inspection run: a named lot inspected with one model and threshold version (store/runs.ts). */
export const Run = z.object({
  id: Id, productId: Id, modelId: Id, thresholdId: Id.nullable(), jobId: Id.nullable(), name: z.string(), source: z.string(),
  watch: z.boolean(), startedAt: z.string(), finishedAt: z.string().nullable(),
  counts: z.object({ inspected: z.number().int(), pass: z.number().int(), review: z.number().int(), fail: z.number().int(), unjudged: z.number().int() }),
  imagesPerSecond: z.number().nullable(), lastResultAt: z.string().nullable(),
  /** The model's version and the threshold's, for lists without another call. */
  modelVersion: z.number().int(), thresholdVersion: z.number().int().nullable(),
  /** The status of the job that runs it (null once that job record is gone). */
  jobStatus: z.string().nullable(),
});
export type Run = z.output<typeof Run>;

/** What an inspection job reports in its result (Job.result). */
export const InspectionSummary = z.object({
  runId: Id.optional(),
  inspected: z.number().int(), pass: z.number().int(), review: z.number().int(), fail: z.number().int(), unjudged: z.number().int(),
  skipped: z.array(z.object({ path: z.string(), problem: z.string() })),
  import: ImportSummary.optional(),
});

// ---------------------------------------------------------------------------------------------
// Methods: name -> request schema and response schema

const method = <I extends z.ZodType, O extends z.ZodType>(input: I, output: O) => ({ input, output });
const Empty = z.object({}).strict();

export const API = {
  // projects: one project is open at a time in a station
  'project.create': method(z.object({ dir: FsPath, name: Name }).strict(), ProjectInfo),
  'project.open': method(z.object({ dir: FsPath }).strict(), ProjectInfo),
  'project.close': method(Empty, z.null()),
  'project.current': method(Empty, ProjectInfo.nullable()),

  'products.list': method(Empty, z.array(Product)),
  'products.create': method(z.object({ name: Name, description: Note.default('') }).strict(), Product),

  // import: files and/or folders (recursively); `layout: 'mvtec'` reads train/good and test/<type> with ground_truth masks
  'images.import': method(z.object({
    productId: Id,
    paths: z.array(FsPath).min(1).max(100_000),
    layout: z.enum(['files', 'mvtec']).default('files'),
    split: Split.default('train'),
    verdict: Verdict.default('unlabelled'),
  }).strict(), Job),
  /**
   * A page of the product's images in import order. Filters combine: split, label, defect type, the
   * latest reviewer decision ('none': undecided), and a score range of each image's latest result
   * under `modelId` (default: the product's newest model; images without a result are left out).
   * With a model, each item carries that score.
   */
  'images.list': method(z.object({
    productId: Id, split: Split.optional(), verdict: Verdict.optional(), defectType: Name.optional(),
    modelId: Id.optional(), scoreMin: Score.optional(), scoreMax: Score.optional(), decision: z.enum(['pass', 'fail', 'none']).optional(), ...Page,
  }).strict().refine((v) => v.scoreMin === undefined || v.scoreMax === undefined || v.scoreMin <= v.scoreMax, 'scoreMin must not exceed scoreMax'),
  z.object({ total: z.number().int(), items: z.array(GridImage) })),
  /** The product's image counts per split, label, defect type and decision (the Dataset screen's filter counts). */
  'images.counts': method(z.object({ productId: Id }).strict(), ImageCounts),
  /**
   * Image files sent as bytes (files dropped onto the page in browser mode, where the page cannot know
   * their paths): each is checked like an imported file (format, full decode, duplicate bytes) and stored
   * in the project; `name` (the file's name or its path inside a dropped folder) is kept as its original path.
   */
  'images.upload': method(z.object({
    productId: Id, split: Split.default('train'), verdict: Verdict.default('unlabelled'),
    files: z.array(z.object({ name: z.string().trim().min(1).max(1024), base64: Base64 }).strict()).min(1).max(500),
  }).strict(), ImportSummary),
  'images.get': method(z.object({ id: Id }).strict(), Image),
  'images.picture': method(z.object({ id: Id, maxSide: z.number().int().min(16).max(4096).default(512) }).strict(), Picture),
  'images.label': method(z.object({ ids: z.array(Id).min(1).max(10_000), verdict: Verdict, defectType: Name.nullable().optional() }).strict(), z.array(Image)),
  'images.setSplit': method(z.object({ ids: z.array(Id).min(1).max(100_000), split: Split }).strict(), z.object({ changed: z.number().int() })),

  /**
   * Each product's list of defect types, in order (the Label screen's number keys 1–9 pick the first
   * nine): names unique in the product whatever their case; a type used on an image joins the list by
   * itself; renaming relabels the images that carry the old name; a type still on images is not removed.
   */
  'defectTypes.list': method(z.object({ productId: Id }).strict(), z.array(DefectType)),
  'defectTypes.add': method(z.object({ productId: Id, name: Name, colour: Colour.optional() }).strict(), DefectType),
  'defectTypes.rename': method(z.object({ id: Id, name: Name }).strict(), z.object({ type: DefectType, relabelled: z.number().int() })),
  'defectTypes.recolour': method(z.object({ id: Id, colour: Colour }).strict(), DefectType),
  'defectTypes.remove': method(z.object({ id: Id }).strict(), z.object({ removed: z.literal(true) })),
  'defectTypes.reorder': method(z.object({ productId: Id, ids: z.array(Id).max(10_000) }).strict(), z.array(DefectType)),

  // masks: PNG of the image's size; any non-zero pixel is "on"
  'masks.set': method(z.object({ imageId: Id, kind: MaskKind, png: Base64 }).strict(), Mask),
  'masks.get': method(z.object({ imageId: Id, kind: MaskKind }).strict(), z.object({ mask: Mask, png: z.string() }).nullable()),
  /**
   * The product's ignore region (labels, serial numbers, fixtures): a PNG of any size, white = ignored,
   * applied to every image of the product (resized to it) beside each image's own ignore mask; null removes it.
   */
  'products.setIgnore': method(z.object({ productId: Id, png: Base64.nullable() }).strict(), Product),
  'products.ignore': method(z.object({ productId: Id }).strict(), z.object({ png: z.string(), width: z.number().int(), height: z.number().int() }).nullable()),
  'masks.delete': method(z.object({ imageId: Id, kind: MaskKind }).strict(), z.object({ deleted: z.boolean() })),

  // models: training runs as a job; the model appears when it succeeds
  'models.train': method(z.object({
    productId: Id, method: MethodName, backbone: z.string().min(1).max(200).optional(),
    // settings are scalars, or short lists of numbers (per-level values such as PFM's levels)
    config: z.record(z.string(), z.union([z.number().finite(), z.string().max(200), z.boolean(), z.array(z.number().finite()).max(16)])).default({}),
  }).strict(), Job),
  /**
   * Add-to-normal without a retrain, as the product's next model version (a job, kind 'train'):
   * PatchCore: the model's memory bank plus the coreset of these normal images' patches; PaDiM: the
   * per-position Gaussians updated with their features, exactly as a fit on all the images would give.
   */
  'models.extend': method(z.object({ modelId: Id, imageIds: z.array(Id).min(1).max(10_000) }).strict(), Job),
  /**
   * What resize 'auto' (the default for new models) would choose for this product's training images
   * with this method, and one line saying why.
   */
  'models.proposeInput': method(z.object({ productId: Id, method: MethodName }).strict(), z.object({
    resize: z.enum(['stretch', 'tile']), height: z.number().int(), width: z.number().int(),
    tileSize: z.number().int(), tileOverlap: z.number().int(), reason: z.string(),
  })),
  /** The backbones of models/manifest.json and whether `method` can train on each (its feature taps, the file present). */
  'backbones.list': method(z.object({ method: MethodName }).strict(), z.array(z.object({
    id: z.string(), isDefault: z.boolean(), unusable: z.string().nullable(), source: z.string(),
  }))),
  'models.list': method(z.object({ productId: Id }).strict(), z.array(Model)),
  'models.get': method(z.object({ id: Id }).strict(), Model),
  /** Scores the product's labelled test and validation images; metrics land on the model. */
  'models.evaluate': method(z.object({ modelId: Id }).strict(), Job),
  'models.scores': method(z.object({ modelId: Id }).strict(), ScoreSet),
  /**
   * Writes the model as a self-contained package (ONNX graphs, runners, manifest) into `out` (absolute;
   * new, empty, or an earlier export of the same model) and runs its parity self-test; a package that
   * does not reproduce the station within the tolerance is removed and the call fails with the differences.
   */
  'models.export': method(z.object({ modelId: Id, out: FsPath }).strict(), ExportResult),

  /** The model's latest stored evaluation (null before its first), with recall per defect type at its current threshold. */
  'evaluations.latest': method(z.object({ modelId: Id }).strict(), Evaluation.nullable()),
  /** The product's evaluation records, newest first: the latest of each model, or every one with `all`. */
  'evaluations.list': method(z.object({ productId: Id, all: z.boolean().default(false) }).strict(), z.array(EvaluationRecord)),
  /** Paired bootstrap of the metric differences between model versions of one product on their shared test images (vs the first). */
  'evaluations.compare': method(z.object({ modelIds: z.array(Id).min(2).max(8) }).strict(), EvaluationComparison),

  'thresholds.list': method(z.object({ modelId: Id }).strict(), z.array(Threshold)),
  'thresholds.set': method(z.object({
    modelId: Id, imageThreshold: Score, pixelThreshold: Score.nullable().default(null),
    reviewLow: Score.nullable().default(null), reviewHigh: Score.nullable().default(null), note: Note.default(''),
  }).strict(), Threshold),

  // inspection: a model over stored images or over a folder (imported as split 'test' first)
  // every inspection is a run named by `name` (a lot number; default "Run <n>"); `watch` keeps inspecting the
  // folder's new images as they arrive until the run is stopped (runs.stop)
  'inspection.run': method(z.object({
    modelId: Id,
    imageIds: z.array(Id).max(100_000).optional(),
    folder: FsPath.optional(),
    name: z.string().trim().min(1).max(200).optional(),
    watch: z.boolean().default(false),
    /** The run a resumed job continues (set by the station, never by a client). */
    runId: Id.optional(),
  }).strict().refine((v) => (v.imageIds === undefined) !== (v.folder === undefined), 'give imageIds or folder, not both')
    .refine((v) => !v.watch || v.folder !== undefined, 'only a folder can be watched'), Job),
  'runs.list': method(z.object({ productId: Id, modelId: Id.optional() }).strict(), z.array(Run)),
  'runs.get': method(z.object({ id: Id }).strict(), Run),
  /** Ends a watched-folder run (its job finishes the images it has started, then stops). */
  'runs.stop': method(z.object({ id: Id }).strict(), Run),
  /**
   * A page of a model's results: `queue` awaiting (no decision yet) or disagree (the decision contradicts
   * the model's pass / fail); `order` score (worst first), uncertainty (closest to the threshold first)
   * or time (newest first).
   */
  'results.list': method(z.object({
    modelId: Id, verdict: ResultVerdict.optional(), jobId: Id.optional(), runId: Id.optional(),
    source: z.enum(['inspection', 'evaluation']).optional(), queue: z.enum(['awaiting', 'disagree']).optional(),
    order: z.enum(['score', 'uncertainty', 'time']).default('score'), ...Page,
  }).strict(), z.object({ total: z.number().int(), items: z.array(Result) })),
  'results.get': method(z.object({ id: Id }).strict(), Result),
  /** Records a reviewer's decision on a result (never changes the model's verdict). */
  'results.decide': method(z.object({
    resultId: Id, verdict: z.enum(['pass', 'fail']), defectType: Name.nullable().default(null), note: Note.default(''), by: Name,
  }).strict().refine((v) => v.verdict === 'fail' || v.defectType === null, 'a passing part has no defect type'), Decision),
  /** Every decision on the result's part, oldest first. */
  'results.decisions': method(z.object({ resultId: Id }).strict(), z.array(Decision)),
  /**
   * Turns reviewed results into labels for the next training: 'normal' labels their images good and
   * moves them to train; 'defect' labels them defective (defect type from the latest decision) and
   * moves them to test, so they are never fitted on.
   */
  'results.label': method(z.object({ resultIds: z.array(Id).min(1).max(10_000), as: z.enum(['normal', 'defect']) }).strict(), z.object({ changed: z.number().int() })),
  /**
   * The image with the anomaly map laid over it and outlines, for review: the detector's predicted
   * mask (white), the refined mask (green, when refined) and the ground truth (magenta, when known).
   */
  'results.overlay': method(z.object({
    id: Id, maxSide: z.number().int().min(16).max(4096).default(1024),
    layers: z.object({
      heatmap: z.boolean().default(true), detector: z.boolean().default(true), refined: z.boolean().default(true), truth: z.boolean().default(false),
    }).strict().default({ heatmap: true, detector: true, refined: true, truth: false }),
  }).strict(), Picture),
  /** The raw anomaly map, for review at full size (colours, outlines and readouts drawn by the screen). */
  'results.map': method(z.object({ id: Id }).strict(), AnomalyMap),
  /** Why the result was flagged: its worst patch beside the nearest normal training patch (PatchCore), else the most similar normal training image. */
  'results.explain': method(z.object({ resultId: Id, maxSide: z.number().int().min(16).max(1024).default(256) }).strict(), Explanation),
  /** A mask of the result as a PNG of the image's size: predicted (failing and review parts only) or refined (F2PAD). */
  'results.mask': method(z.object({ id: Id, kind: z.enum(['predicted', 'refined']) }).strict(), z.object({ png: z.string() }).nullable()),
  /** The repaired (defect-free) image of a refined result. */
  'results.repaired': method(z.object({ id: Id, maxSide: z.number().int().min(16).max(4096).default(1024) }).strict(), Picture),

  /**
   * F2PAD refinement as a job: one result, or every failing and review result of an inspection job.
   * Needs a pixel threshold (the model's threshold, else the suggested one).
   */
  'refine.run': method(z.object({
    resultId: Id.optional(), inspectionJobId: Id.optional(), settings: RefineSettings.default({}),
  }).strict().refine((v) => (v.resultId === undefined) !== (v.inspectionJobId === undefined), 'give resultId or inspectionJobId, not both'), Job),

  /**
   * A validation report (the model at a threshold version on its labelled test set) or an inspection
   * report (one batch: an inspect job, default the model's latest) as PDF, HTML or CSV; the sign-off
   * names are printed in the report's sign-off block.
   */
  'reports.create': method(z.object({
    modelId: Id, kind: ReportKind.default('inspection'), format: ReportFormat, title: Name.optional(),
    jobId: Id.optional(), thresholdId: Id.optional(),
    preparedBy: z.string().trim().max(200).default(''), reviewedBy: z.string().trim().max(200).default(''), role: z.string().trim().max(200).default(''),
  }).strict()
    .refine((v) => v.kind === 'inspection' || v.jobId === undefined, 'jobId picks the batch of an inspection report; a validation report takes thresholdId')
    .refine((v) => v.kind === 'validation' || v.thresholdId === undefined, 'an inspection report uses the thresholds its batch was judged with; thresholdId is for validation reports'), Report),
  'reports.list': method(z.object({ productId: Id }).strict(), z.array(Report)),
  'reports.content': method(z.object({ id: Id }).strict(), z.object({ report: Report, mediaType: z.string(), base64: z.string() })),

  'jobs.list': method(z.object({ status: JobStatus.optional() }).strict(), z.array(Job)),
  'jobs.get': method(z.object({ id: Id }).strict(), Job),
  'jobs.cancel': method(z.object({ id: Id }).strict(), z.object({ cancelled: z.boolean() })),
  /** Requeues an interrupted job; it continues where that makes sense (import, inspection skip finished images). */
  'jobs.resume': method(z.object({ id: Id }).strict(), Job),
} as const;

export type ApiMethod = keyof typeof API;
export const API_METHODS = Object.keys(API) as ApiMethod[];
/** What a caller sends (defaults may be left out). */
export type ApiInput<M extends ApiMethod> = z.input<(typeof API)[M]['input']>;
/** What the station's handler receives (defaults filled in, validated). */
export type ApiRequest<M extends ApiMethod> = z.output<(typeof API)[M]['input']>;
export type ApiOutput<M extends ApiMethod> = z.output<(typeof API)[M]['output']>;

export type ProjectInfo = z.output<typeof ProjectInfo>;
export type Product = z.output<typeof Product>;
export type Image = z.output<typeof Image>;
export type GridImage = z.output<typeof GridImage>;
export type ImageCounts = z.output<typeof ImageCounts>;
export type Mask = z.output<typeof Mask>;
export type DefectType = z.output<typeof DefectType>;
export type Model = z.output<typeof Model>;
export type Threshold = z.output<typeof Threshold>;
export type Job = z.output<typeof Job>;
export type Result = z.output<typeof Result>;
export type Decision = z.output<typeof Decision>;
export type Report = z.output<typeof Report>;
export type Refinement = z.output<typeof Refinement>;
export type RefineSettings = z.output<typeof RefineSettings>;
export type Picture = z.output<typeof Picture>;
export type AnomalyMap = z.output<typeof AnomalyMap>;
export type Explanation = z.output<typeof Explanation>;
export type PixelBox = z.output<typeof PixelBox>;
export type TilePlace = z.output<typeof TilePlace>;
export type ScoreSet = z.output<typeof ScoreSet>;
export type ImportSummary = z.output<typeof ImportSummary>;
export type InspectionSummary = z.output<typeof InspectionSummary>;
export type EvaluationRecord = z.output<typeof EvaluationRecord>;
export type Evaluation = z.output<typeof Evaluation>;
export type DefectRecall = z.output<typeof DefectRecall>;
export type EvaluationComparison = z.output<typeof EvaluationComparison>;

// ---------------------------------------------------------------------------------------------
// Events pushed from the station (job progress and status changes)

export interface JobProgress {
  readonly fraction: number;
  readonly step: string;
  readonly message: string;
  readonly etaSeconds: number | null;
  /** Training loss of the latest step, when the job trains. */
  readonly loss: number | null;
}

export type StationEvent =
  | { readonly type: 'job'; readonly job: Job }
  | { readonly type: 'progress'; readonly jobId: number; readonly progress: JobProgress }
  | { readonly type: 'project'; readonly project: ProjectInfo | null };

// ---------------------------------------------------------------------------------------------
// Errors and the wire format

export type ApiErrorCode =
  | 'INVALID_REQUEST' | 'UNKNOWN_METHOD' | 'NO_PROJECT' | 'NOT_FOUND' | 'CONFLICT' | 'PROJECT_BUSY'
  | 'PROJECT_CORRUPT' | 'PATH_OUTSIDE_PROJECT' | 'BAD_INPUT' | 'UNAUTHORIZED' | 'INTERNAL';

export interface ApiErrorBody {
  readonly code: ApiErrorCode;
  readonly message: string;
}

/** Every transport answers a call with exactly one of these. */
export type ApiResponse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiErrorBody };

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** The surface a screen sees, whatever carries it (Electron preload or browser-mode client). */
export interface ArgusApi {
  call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>>;
  /** Subscribes to station events; returns the unsubscribe function. */
  onEvent(listener: (event: StationEvent) => void): () => void;
}
