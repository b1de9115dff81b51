export {
  type BufferDecl, type FeedDecl, type ForwardResult, type ParamDecl, type ParamGroup, type TrainableModel,
  buildLoopGraph, buildStepGraph, carriedTensors, stateName,
} from './step-graph.ts';
export {
  type BatchSource, type Feeds, type RunOptions, type RunSummary, type StepResult, type TrainerOptions, type TrainingProgress,
  CheckpointMismatchError, Trainer, TrainingCancelledError, stepRandom,
} from './trainer.ts';
export { type NamedTensor, type TensorFile, TensorFileError, decodeTensorFile, encodeTensorFile, readTensorFile, writeTensorFile } from './tensor-file.ts';
