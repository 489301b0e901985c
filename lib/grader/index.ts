/** The grader API lab authors use in checks.ts (docs/authoring-labs.md). */
export { defineChecks, type LabChecks, type CheckFn, type PlaygroundContext } from "./define.ts";
export type { CheckContext, LoadOptions, SpawnOptions } from "./context.ts";
export type { LearnerProcess, RpcModule } from "./process.ts";
export { CheckFailure, GraderError, type CheckResult, type GradeResult, type Verdict } from "./result.ts";
export { assertEachOnce, QueueHistory, type QueueEvent, type QueueModel, type QueueOp } from "./history.ts";
export { fc, type PropertyOptions } from "./property.ts";
