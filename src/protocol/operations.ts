/**
 * The catalogue's public face: what the HTTP surface, the backend, the client and the CLI import.
 * Each concern lives in its own file: the entries (catalogue.ts) and their shape (operation-spec.ts),
 * the params (params.ts) and aciimg's extensions to them (encoder.ts), Go's coercion (coerce.ts),
 * the pipeline JSON (pipeline-json.ts, pipeline.ts), request validation (validate.ts), Go's
 * formatting (go-format.ts) and the output formats (output-types.ts).
 */
export {
  checkRequired,
  checkWritable,
  isOperationName,
  isPipelineName,
  operationNames,
  operationSpecs,
  specOf,
  type ImageOperationName,
  type OperationName,
  type PipelineName,
} from "./catalogue.js";
export type { CliFlag, OperationSpec } from "./operation-spec.js";
export { parseImageOptions } from "./coerce.js";
export {
  paramSpecs,
  type Checked,
  type Dialect,
  type ImageOptions,
  type ParamName,
  type ParamSpec,
  type PipelineStep,
  type RawPipelineStep,
  type Rejection,
} from "./params.js";
export { parsePipeline } from "./pipeline.js";
export { negotiateType, type OutputType, type UnwritableType } from "./output-types.js";
export { validateRequest } from "./validate.js";
